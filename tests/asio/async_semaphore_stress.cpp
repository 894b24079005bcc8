// SPDX-License-Identifier: BSL-1.0
// Stress test of the "nothing lost" promise of pipc/asio/async_semaphore.hpp: acquires in this
// process race cancellations of every kind against posts from another process, and afterwards
// the semaphore's value is exactly posts - successful acquires.
//
// PIPC_STRESS_DIVISOR=N runs 1/N of the iterations (used under sanitizers).
#define BOOST_TEST_MODULE asio_async_semaphore_stress
#include <boost/test/unit_test.hpp>

#include "async_semaphore_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <cstdint>
#include <optional>

using namespace sem_test;
using pipc::object_kind;

BOOST_AUTO_TEST_CASE(acquire_cancel_races_across_two_processes) {
    const long iterations = scaled(100000);
    pipc_test::named target_name(object_kind::semaphore, "target");
    pipc_test::named credit_name(object_kind::semaphore, "credit");
    pipc::semaphore target(target_name, create_opts(0));
    pipc::semaphore credit(credit_name, create_opts(0));

    // The peer posts one unit to `target` per credit, exactly `iterations` times. Forked before
    // this process starts any helper thread.
    pipc_test::child_process peer(
        [&] {
            pipc::semaphore t(target_name), c(credit_name);
            for (long i = 0; i < iterations; ++i) {
                if (!c.try_acquire_for(std::chrono::seconds(30))) return false;
                t.release();
            }
            return true;
        },
        240);

    asio::io_context ctx;
    // A short slice so that partial/total cancellation of a lone waiter settles quickly.
    asio::use_service<pipc::semaphore_waiter_service>(ctx).configure(
        {.max_threads = 4, .slice = std::chrono::milliseconds(1)});
    pipc::async_semaphore s(ctx, target_name);

    using ct = asio::cancellation_type;
    long successes = 0, aborted = 0, timeouts = 0, cancel_lost = 0, drained = 0;
    bool stuck = false;
    std::uint64_t rng = 0x9e3779b97f4a7c15ull;
    auto next_random = [&rng] { // xorshift: varies the moment of the cancellation
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    };
    // Lets the peer's post and the I/O side (poll) run for a random 0-150 us before cancelling.
    auto race_window = [&] {
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::microseconds(next_random() % 150);
        ctx.restart();
        do ctx.poll();
        while (std::chrono::steady_clock::now() < until);
    };
    for (long i = 0; i < iterations && !stuck; ++i) {
        // Units left over by aborted iterations would let the next acquire succeed on the spot;
        // take them here so that every acquire below really races a helper.
        while (s.try_acquire()) ++drained;
        std::optional<error_code> first, second;
        asio::cancellation_signal sig;
        const int pattern = static_cast<int>(i % 8);
        auto record = [](std::optional<error_code>& slot) {
            return [&slot](error_code ec) { slot = ec; };
        };
        // Each iteration lets exactly one unit come, at a moment we do not control, racing the
        // cancellation.
        switch (pattern) {
        case 0: // terminal, probably before the helper is involved
            s.async_acquire(asio::bind_cancellation_slot(sig.slot(), record(first)));
            credit.release();
            sig.emit(ct::terminal);
            break;
        case 1: // terminal, with the helper probably asleep on it
            s.async_acquire(asio::bind_cancellation_slot(sig.slot(), record(first)));
            credit.release();
            race_window();
            sig.emit(ct::terminal);
            break;
        case 2: // total, lone waiter: settled by the helper
            s.async_acquire(asio::bind_cancellation_slot(sig.slot(), record(first)));
            credit.release();
            race_window();
            sig.emit(ct::total);
            break;
        case 3: // partial
            s.async_acquire(asio::bind_cancellation_slot(sig.slot(), record(first)));
            credit.release();
            race_window();
            sig.emit(ct::partial);
            break;
        case 4: // cancel() on the object
            s.async_acquire(record(first));
            credit.release();
            race_window();
            s.cancel();
            break;
        case 5: // a timeout racing the post
            s.async_acquire_for(std::chrono::microseconds(next_random() % 200), record(first));
            credit.release();
            break;
        case 6: // two waiters, the first cancelled (all types): side-effect free at once
            s.async_acquire(asio::bind_cancellation_slot(sig.slot(), record(first)));
            s.async_acquire_for(std::chrono::milliseconds(2), record(second));
            credit.release();
            race_window();
            sig.emit(ct::all);
            break;
        default: // no cancellation at all: also drains units left by aborted iterations
            s.async_acquire_for(std::chrono::seconds(30), record(first));
            credit.release();
            break;
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        ctx.restart();
        while (!(first && (pattern != 6 || second))) {
            if (std::chrono::steady_clock::now() > until) {
                BOOST_ERROR("iteration " << i << " (pattern " << pattern << ") not done in 30 s");
                stuck = true;
                break;
            }
            if (ctx.run_one_for(std::chrono::milliseconds(100)) == 0 && ctx.stopped()) {
                // A pending acquire keeps work on the context: it must not stop before it ends.
                BOOST_ERROR("iteration " << i << " (pattern " << pattern
                                         << "): the io_context stopped with an acquire pending");
                stuck = true;
                break;
            }
        }
        if (stuck) { // complete what is left while the slots it writes to still exist
            s.cancel();
            ctx.restart();
            ctx.poll();
        }
        for (auto* r : {&first, &second}) {
            if (!*r) continue;
            if (!**r) {
                ++successes;
                if (pattern <= 4 || pattern == 6) ++cancel_lost;
            } else if (**r == asio::error::operation_aborted) {
                ++aborted;
            } else if (**r == pipc::condition::busy) {
                ++timeouts;
            } else {
                BOOST_ERROR("unexpected result " << r->value().message());
                stuck = true;
            }
        }
    }
    BOOST_TEST(!stuck);
    BOOST_TEST(peer.succeeded(std::chrono::seconds(120)));
    // Let every completion still queued run (there should be none).
    ctx.restart();
    ctx.poll();
    BOOST_TEST_MESSAGE("iterations " << iterations << ": " << successes << " acquired ("
                                     << cancel_lost << " won against a cancellation), " << aborted
                                     << " aborted, " << timeouts << " timed out, " << drained
                                     << " drained");
    BOOST_TEST(target.value() == iterations - successes - drained);
    BOOST_TEST(aborted > 0);
    BOOST_TEST(successes > 0);
}
