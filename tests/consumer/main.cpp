// SPDX-License-Identifier: BSL-1.0
// A program outside the pipc tree: it sees only the installed headers and links libpipc the way
// its build system says (pipc::pipc or pkg-config). It crosses the library boundary in each
// direction that can break when packaging goes wrong: core calls, an exception thrown inside
// libpipc and caught here by type, and the Asio layer's compiled semaphore waiter service.
#include <pipc/asio.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <iostream>
#include <string>

namespace asio = boost::asio;

int main() {
    std::string mq_text, async_text, sem_result = "not run", error_kind = "none";

    // Core: a message queue round trip.
    pipc::message_queue mq(pipc::unique_name, {.max_messages = 4, .max_message_size = 64});
    mq.send(std::string_view("ping"));
    mq_text = std::string(mq.receive().text());

    // An exception thrown by libpipc, caught by its exact type: needs the exported typeinfo.
    try {
        pipc::message_queue missing("/pipc-consumer-never-created", {});
    } catch (const pipc::existential_error&) {
        error_kind = "existential";
    }

    // Asio layer: an async receive, and an async acquire that only completes after a release,
    // so it goes through the semaphore waiter service inside libpipc.
    asio::io_context ctx;
    pipc::async_message_queue amq(ctx, mq.name(), {});
    pipc::semaphore sem(pipc::unique_name, {.initial_value = 0});
    pipc::async_semaphore asem(ctx, sem.name());
    asio::steady_timer watchdog(ctx, std::chrono::seconds(10));
    watchdog.async_wait([&](pipc::error_code ec) {
        if (!ec) ctx.stop();
    });
    int pending = 2;
    amq.async_receive_message([&](pipc::error_code ec, pipc::message m) {
        async_text = ec ? ec.message() : std::string(m.text());
        if (--pending == 0) watchdog.cancel();
    });
    asem.async_acquire([&](pipc::error_code ec) {
        sem_result = ec ? ec.message() : "acquired";
        if (--pending == 0) watchdog.cancel();
    });
    mq.send(std::string_view("pong"));
    sem.release();
    ctx.run();

    mq.unlink();
    sem.unlink();
    const bool ok = mq_text == "ping" && async_text == "pong" && sem_result == "acquired" &&
                    error_kind == "existential";
    std::cout << "consumer " << (ok ? "ok" : "FAILED") << ": mq=" << mq_text
              << " async_mq=" << async_text << " async_sem=" << sem_result
              << " error=" << error_kind << " pipc=" << pipc::version_string << '\n';
    return ok ? 0 : 1;
}
