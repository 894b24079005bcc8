// SPDX-License-Identifier: BSL-1.0
// tests/asio/async_message_queue_support.hpp - shared helpers of the async_message_queue tests:
// the backend list, and each operation in four flavours (sync throwing, sync error_code,
// callback, coroutine), in the manner of Boost.MySQL's netfun_maker.
#pragma once

#include <pipc/asio/async_message_queue.hpp>
#include <pipc_test/asio_run.hpp>
#include <pipc_test/support.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/mpl/list.hpp>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pipc {
// Lets BOOST_TEST print `ec == pipc::errc::...` comparisons.
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) {
    return os << make_error_code(e).message();
}
} // namespace pipc

namespace mq_test {

namespace asio = boost::asio;
using pipc::error_code;
using pipc::mq_backend;

template <mq_backend B>
using backend_c = std::integral_constant<mq_backend, B>;
using backends = boost::mpl::list<backend_c<mq_backend::descriptor>, backend_c<mq_backend::notify>>;

inline pipc::message_queue::options create_opts(long max_messages = 10, long max_size = 128) {
    pipc::message_queue::options o;
    o.open = pipc::open_mode::open_or_create;
    o.max_messages = max_messages;
    o.max_message_size = max_size;
    return o;
}

inline asio::const_buffer cbuf(std::string_view s) {
    return asio::buffer(s.data(), s.size());
}

inline std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

using pipc_test::run_until;

enum class flavour { sync_throw, sync_ec, callback, coroutine };
inline constexpr flavour all_flavours[] = {flavour::sync_throw, flavour::sync_ec, flavour::callback,
                                           flavour::coroutine};
inline const char* name_of(flavour f) {
    switch (f) {
    case flavour::sync_throw:
        return "sync_throw";
    case flavour::sync_ec:
        return "sync_ec";
    case flavour::callback:
        return "callback";
    case flavour::coroutine:
        return "coroutine";
    }
    return "?";
}

struct receive_result {
    error_code ec;
    std::string text;
    unsigned priority = 0;
    bool completed_inline = false; ///< async flavours: the handler ran inside the initiating call
};

/// Sends in flavour `f`; async flavours run `ctx` until the completion. Returns the error.
inline error_code send_as(flavour f, asio::io_context& ctx, pipc::async_message_queue& q,
                          std::string_view text, unsigned priority, bool* inline_flag = nullptr) {
    error_code ec;
    switch (f) {
    case flavour::sync_throw:
        try {
            q.send(bytes(text), priority);
        } catch (const pipc::error& e) {
            ec = e.code();
        }
        return ec;
    case flavour::sync_ec:
        q.send(bytes(text), priority, ec);
        return ec;
    case flavour::callback: {
        bool done = false, initiating = true;
        q.async_send(cbuf(text), priority, [&](error_code e) {
            ec = e;
            done = true;
            if (initiating && inline_flag) *inline_flag = true;
        });
        initiating = false;
        if (!run_until(ctx, [&] { return done; })) return make_error_code(std::errc::timed_out);
        return ec;
    }
    case flavour::coroutine: {
        bool done = false, initiating = true;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                auto [e] = co_await q.async_send(cbuf(text), priority,
                                                 asio::as_tuple(asio::use_awaitable));
                ec = e;
                done = true;
            },
            asio::detached);
        initiating = false;
        (void)initiating;
        if (!run_until(ctx, [&] { return done; })) return make_error_code(std::errc::timed_out);
        return ec;
    }
    }
    return ec;
}

/// Receives into a buffer of `buffer_size` bytes in flavour `f`.
inline receive_result receive_as(flavour f, asio::io_context& ctx, pipc::async_message_queue& q,
                                 std::size_t buffer_size) {
    receive_result r;
    std::vector<std::byte> buf(buffer_size);
    auto fill = [&](std::size_t n, unsigned prio) {
        r.text.assign(reinterpret_cast<const char*>(buf.data()), n);
        r.priority = prio;
    };
    switch (f) {
    case flavour::sync_throw:
        try {
            const auto got = q.receive(std::span(buf));
            fill(got.size, got.priority);
        } catch (const pipc::error& e) {
            r.ec = e.code();
        }
        return r;
    case flavour::sync_ec: {
        const auto got = q.receive(std::span(buf), r.ec);
        if (!r.ec) fill(got.size, got.priority);
        return r;
    }
    case flavour::callback: {
        bool done = false, initiating = true;
        q.async_receive(asio::buffer(buf), [&](error_code e, std::size_t n, unsigned prio) {
            r.ec = e;
            if (!e) fill(n, prio);
            if (initiating) r.completed_inline = true;
            done = true;
        });
        initiating = false;
        if (!run_until(ctx, [&] { return done; })) r.ec = make_error_code(std::errc::timed_out);
        return r;
    }
    case flavour::coroutine: {
        bool done = false;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                auto [e, n, prio] = co_await q.async_receive(asio::buffer(buf),
                                                             asio::as_tuple(asio::use_awaitable));
                r.ec = e;
                if (!e) fill(n, prio);
                done = true;
            },
            asio::detached);
        if (!run_until(ctx, [&] { return done; })) r.ec = make_error_code(std::errc::timed_out);
        return r;
    }
    }
    return r;
}

/// Receives an owning message in flavour `f`.
inline receive_result receive_message_as(flavour f, asio::io_context& ctx,
                                         pipc::async_message_queue& q) {
    receive_result r;
    auto fill = [&](const pipc::message& m) {
        r.text = std::string(m.text());
        r.priority = m.priority;
    };
    switch (f) {
    case flavour::sync_throw:
        try {
            fill(q.receive());
        } catch (const pipc::error& e) {
            r.ec = e.code();
        }
        return r;
    case flavour::sync_ec: {
        const auto m = q.receive(r.ec);
        if (!r.ec) fill(m);
        return r;
    }
    case flavour::callback: {
        bool done = false, initiating = true;
        q.async_receive_message([&](error_code e, pipc::message m) {
            r.ec = e;
            if (!e) fill(m);
            if (initiating) r.completed_inline = true;
            done = true;
        });
        initiating = false;
        if (!run_until(ctx, [&] { return done; })) r.ec = make_error_code(std::errc::timed_out);
        return r;
    }
    case flavour::coroutine: {
        bool done = false;
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                auto [e, m] = co_await q.async_receive_message(asio::as_tuple(asio::use_awaitable));
                r.ec = e;
                if (!e) fill(m);
                done = true;
            },
            asio::detached);
        if (!run_until(ctx, [&] { return done; })) r.ec = make_error_code(std::errc::timed_out);
        return r;
    }
    }
    return r;
}

} // namespace mq_test
