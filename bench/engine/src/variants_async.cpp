// SPDX-License-Identifier: BSL-1.0
// The co_await variants: pipc-async (descriptor backend for queues, the waiter service for
// semaphores) and pipc-async-notify (queues, notify backend). Both processes are async, each on a
// single-threaded io_context in its pinned thread, as a real Asio service would be.
//
// Each variant is compiled in when its header is present (__has_include), so the bench builds
// before, while and after the Asio layer lands; `pipc-bench --list` shows what a build has.
#include "cell.hpp"

#if __has_include(<pipc/asio/async_message_queue.hpp>)
#define PIPC_BENCH_ASYNC_MQ 1
#include <pipc/asio/async_message_queue.hpp>
#endif
#if __has_include(<pipc/asio/async_semaphore.hpp>) && !defined(PIPC_BENCH_PUBLIC_PATH_VARIANTS)
#define PIPC_BENCH_ASYNC_SEM 1
#include <pipc/asio/async_semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <fcntl.h>
#include <semaphore.h>
#endif

#if __has_include(<pipc/asio/async_channel.hpp>) && !defined(PIPC_BENCH_PUBLIC_PATH_VARIANTS)
#define PIPC_BENCH_ASYNC_CHANNEL 1
#include <pipc/asio/async_channel.hpp>
#endif

#if defined(PIPC_BENCH_ASYNC_MQ) || defined(PIPC_BENCH_ASYNC_SEM) ||                               \
    defined(PIPC_BENCH_ASYNC_CHANNEL)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <tuple>
#include <type_traits>
#endif

namespace pipc_bench::detail {

#if defined(PIPC_BENCH_ASYNC_MQ) || defined(PIPC_BENCH_ASYNC_SEM) ||                               \
    defined(PIPC_BENCH_ASYNC_CHANNEL)
namespace {

namespace asio = boost::asio;

const std::string& in_name(const cell_spec& s, bool initiator) {
    return s.names[initiator ? 1 : 0];
}
const std::string& out_name(const cell_spec& s, bool initiator) {
    return s.names[initiator ? 0 : 1];
}

void check_len(std::size_t got, std::size_t want) {
    if (got != want)
        fail("async receive: message of " + std::to_string(got) + " bytes, expected " +
             std::to_string(want));
}

/// Runs `body(ctx)` as the only coroutine of a fresh single-threaded io_context on this thread;
/// rethrows what it threw.
template <class Body>
void run_io(Body&& body) {
    asio::io_context ctx(1);
    std::exception_ptr err;
    asio::co_spawn(ctx, body(ctx), [&](std::exception_ptr e) { err = std::move(e); });
    ctx.run();
    if (err) std::rethrow_exception(err);
}

// The loops mirror peer_blocking / initiator_blocking in cell.hpp; E's operations are
// awaitables: a thin coroutine around the library's async call, with use_awaitable, or, where
// E::direct is true, the library's own awaitable (no coroutine of the bench's in between: the
// raw peers make plain calls, so a wrapper frame per operation is a cost of the bench, not of the
// library). A direct receive yields the received size, checked here.
template <class E>
constexpr bool direct_ops() {
    if constexpr (requires { E::direct; })
        return E::direct;
    else
        return false;
}

/// The size a direct receive completed with: a queue's (size, priority), a channel's size.
template <class T>
std::size_t received_size(const T& got) {
    if constexpr (std::is_integral_v<T>)
        return got;
    else
        return std::get<0>(got);
}

// co_await e.recv / e.tput_recv, checking a direct receive's size (a macro-free spelling would
// need a coroutine, which is what direct operations avoid).
// NOLINTBEGIN(bugprone-macro-parentheses): `op` names a member function
#define PIPC_BENCH_RECV(e, op, p, n)                                                               \
    do {                                                                                           \
        if constexpr (direct_ops<E>()) {                                                           \
            const auto got = co_await (e).op((p), (n));                                            \
            check_len(received_size(got), (n));                                                    \
        } else {                                                                                   \
            co_await (e).op((p), (n));                                                             \
        }                                                                                          \
    } while (false)
// NOLINTEND(bugprone-macro-parentheses)

template <class E>
asio::awaitable<void> peer_async(E& e, const cell_spec& s, std::vector<std::byte>& buf,
                                 pair_sync& ps) {
    const std::uint64_t total = s.warmup + s.round_trips;
    std::int64_t cs0 = 0, cpu0 = 0;
    for (std::uint64_t i = 0; i < total; ++i) {
        if (i == s.warmup) {
            cs0 = process_switches();
            cpu0 = process_cpu_ns();
        }
        PIPC_BENCH_RECV(e, recv, buf.data(), buf.size());
        if constexpr (E::checks_seq) seq_check("peer echo", i, seq_get(buf.data()));
        co_await e.send(buf.data(), buf.size());
    }
    ps.report(process_switches() - cs0);
    ps.report(process_cpu_ns() - cpu0);
    if (s.tput_msgs == 0) co_return;
    const std::uint64_t n = s.tput_warmup + s.tput_msgs;
    for (std::uint64_t i = 0; i < n; ++i) {
        seq_put(buf.data(), i);
        co_await e.tput_send(buf.data(), buf.size());
    }
}

template <class E>
asio::awaitable<void> initiator_async(E& e, const cell_spec& s, std::vector<std::byte>& buf,
                                      measurement& m, pair_sync& ps) {
    std::vector<std::byte> out(buf.size(), std::byte{0x5a});
    for (std::uint64_t i = 0; i < s.warmup; ++i) {
        seq_put(out.data(), i);
        co_await e.send(out.data(), out.size());
        PIPC_BENCH_RECV(e, recv, buf.data(), buf.size());
        if constexpr (E::checks_seq) seq_check("echo", i, seq_get(buf.data()));
    }
    std::int64_t* sample = m.samples_ns.data();
    const std::int64_t cs0 = process_switches();
    const std::int64_t cpu0 = process_cpu_ns();
    std::int64_t prev = now_ns();
    for (std::uint64_t i = 0; i < s.round_trips; ++i) {
        const std::uint64_t seq = s.warmup + i;
        seq_put(out.data(), seq);
        co_await e.send(out.data(), out.size());
        PIPC_BENCH_RECV(e, recv, buf.data(), buf.size());
        const std::int64_t t = now_ns();
        sample[i] = t - prev;
        prev = t;
        if constexpr (E::checks_seq) seq_check("echo", seq, seq_get(buf.data()));
    }
    const std::int64_t cpu = process_cpu_ns() - cpu0;
    m.switches_per_rt = double(process_switches() - cs0) / double(s.round_trips);
    m.peer_switches_per_rt = double(ps.collect()) / double(s.round_trips);
    m.cpu_us_per_rt = double(cpu + ps.collect()) / 1000.0 / double(s.round_trips);
    if (s.tput_msgs == 0) co_return;
    e.tput_begin_initiator();
    const std::uint64_t n = s.tput_warmup + s.tput_msgs;
    std::int64_t t0 = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        PIPC_BENCH_RECV(e, tput_recv, buf.data(), buf.size());
        if constexpr (E::checks_seq) seq_check("stream", i, seq_get(buf.data()));
        if (i + 1 == s.tput_warmup) t0 = now_ns();
    }
    m.msgs_per_s = double(s.tput_msgs) * 1e9 / double(now_ns() - t0);
}

template <class E>
void async_cell(const cell_spec& s, measurement& m) {
    E::create(s);
    const std::size_t bufsize = std::max<std::size_t>(s.size, 8);
    run_pair(
        s,
        [&](pair_sync& ps) {
            run_io([&](asio::io_context& ctx) -> asio::awaitable<void> {
                E e(ctx, s, false);
                ps.ready();
                std::vector<std::byte> buf(bufsize);
                co_await peer_async(e, s, buf, ps);
            });
        },
        [&](pair_sync& ps) {
            run_io([&](asio::io_context& ctx) -> asio::awaitable<void> {
                E e(ctx, s, true);
                ps.wait_ready();
                std::vector<std::byte> buf(bufsize);
                co_await initiator_async(e, s, buf, m, ps);
                m.depth = s.depth;
            });
        });
}

} // namespace
#endif

#ifdef PIPC_BENCH_ASYNC_MQ
namespace {

/// Both queues on both sides use `Backend`; receives drain speculatively (the library tries
/// first and waits only when the queue is empty).
template <pipc::mq_backend Backend, spin_mode Spin = spin_mode::block>
struct mq_async {
    static constexpr bool checks_seq = true;
    static void create(const cell_spec& s) {
        pipc::message_queue::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.max_messages = s.depth;
        o.max_message_size = long(s.size);
        for (int i = 0; i < 2; ++i) pipc::message_queue q(s.names[i], o);
    }
    static pipc::message_queue::options opts(pipc::access a) {
        pipc::message_queue::options o;
        o.access = a;
        o.wait = strategy_for(Spin);
        return o;
    }
    mq_async(asio::io_context& ctx, const cell_spec& s, bool initiator)
        : in_(ctx, in_name(s, initiator), opts(pipc::access::read_only), Backend),
          out_(ctx, out_name(s, initiator), opts(pipc::access::write_only), Backend) {}
    // The library's awaitables themselves (see direct_ops): the loops await async_send and
    // async_receive as an application would, and check the received size.
    static constexpr bool direct = true;
    auto send(const std::byte* p, std::size_t n) {
        return out_.async_send(asio::buffer(p, n), 0u, asio::use_awaitable);
    }
    auto recv(std::byte* p, std::size_t n) {
        return in_.async_receive(asio::buffer(p, n), asio::use_awaitable);
    }
    void tput_begin_initiator() {}
    auto tput_send(const std::byte* p, std::size_t n) { return send(p, n); }
    auto tput_recv(std::byte* p, std::size_t n) { return recv(p, n); }

    pipc::async_message_queue in_, out_;
};

} // namespace
#endif

#ifdef PIPC_BENCH_ASYNC_SEM
namespace {

void create_sems(const cell_spec& s) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    for (int i = 0; i < 2; ++i) pipc::semaphore sem(s.names[i], o);
}

/// Ping-pong: release the outbound semaphore, co_await the inbound one. Stream: the same credit
/// window as sem/raw (variants_blocking.cpp).
template <spin_mode Spin = spin_mode::block>
struct sem_async {
    static constexpr bool checks_seq = false;
    static void create(const cell_spec& s) { create_sems(s); }
    static pipc::semaphore::options opts() {
        pipc::semaphore::options o;
        o.wait = strategy_for(Spin);
        return o;
    }
    sem_async(asio::io_context& ctx, const cell_spec& s, bool initiator)
        : in_(ctx, in_name(s, initiator), opts()), out_(ctx, out_name(s, initiator), opts()),
          depth_(s.depth) {}
    asio::awaitable<void> send(const std::byte*, std::size_t) {
        out_.release();
        co_return;
    }
    asio::awaitable<void> recv(std::byte*, std::size_t) {
        co_await in_.async_acquire(asio::use_awaitable);
    }
    void tput_begin_initiator() { out_.release(depth_); }
    asio::awaitable<void> tput_send(const std::byte*, std::size_t) {
        co_await in_.async_acquire(asio::use_awaitable);
        out_.release();
    }
    asio::awaitable<void> tput_recv(std::byte*, std::size_t) {
        co_await in_.async_acquire(asio::use_awaitable);
        out_.release();
    }

    pipc::async_semaphore in_, out_;
    long depth_;
};

// ---- sem: acquiring a free semaphore (one process, no peer) --------------------------------

/// Operations per sample of the free-semaphore cells: one acquire costs tens of ns, far below a
/// clock read's resolution and cost, so each sample times a batch. The table's microseconds per
/// sample are therefore nanoseconds per acquire.
constexpr int free_batch = 1000;

/// Fills m.samples_ns with warmup + round_trips batches of `free_batch` acquires, each preceded
/// by an untimed refill of `free_batch` units; `acquire_batch` returns the batch's time in ns.
template <class AcquireBatch>
void sample_free_batches(const cell_spec& s, measurement& m, AcquireBatch&& acquire_batch) {
    for (std::uint64_t i = 0; i < s.warmup; ++i) acquire_batch();
    const std::int64_t cpu0 = process_cpu_ns();
    for (std::uint64_t i = 0; i < s.round_trips; ++i) m.samples_ns[i] = acquire_batch();
    m.cpu_us_per_rt = double(process_cpu_ns() - cpu0) / 1000.0 / double(s.round_trips);
}

/// The floor: sem_trywait on a semaphore that has units (no system call).
void free_cell_raw(const cell_spec& s, measurement& m) {
    sem_t* p = ::sem_open(s.names[0].c_str(), O_CREAT | O_EXCL, 0600, 0u);
    if (p == SEM_FAILED) fail_errno("sem_open " + s.names[0]);
    ::sem_unlink(s.names[0].c_str());
    sample_free_batches(s, m, [&] {
        for (int k = 0; k < free_batch; ++k) ::sem_post(p);
        const std::int64_t t0 = now_ns();
        for (int k = 0; k < free_batch; ++k)
            if (::sem_trywait(p) != 0) fail_errno("sem_trywait");
        return now_ns() - t0;
    });
    ::sem_close(p);
}

/// co_await async_acquire(use_awaitable) on a semaphore that has units, in a coroutine on a
/// single-threaded io_context, as an Asio service would take a free unit. With `TryFirst`, the
/// coroutine calls try_acquire() first and co_awaits only when it fails (the idiom
/// docs/wait-strategies.md gives for a free semaphore; it never waits behind older acquires).
template <bool TryFirst>
void free_cell_async(const cell_spec& s, measurement& m) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    run_io([&](asio::io_context& ctx) -> asio::awaitable<void> {
        pipc::async_semaphore sem(ctx, s.names[0], o);
        sem.unlink();
        const std::uint64_t total = s.warmup + s.round_trips;
        const std::int64_t cpu0 = process_cpu_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
            sem.release(free_batch);
            const std::int64_t t0 = now_ns();
            for (int k = 0; k < free_batch; ++k)
                if (!TryFirst || !sem.try_acquire())
                    co_await sem.async_acquire(asio::use_awaitable);
            const std::int64_t t = now_ns() - t0;
            if (i >= s.warmup) m.samples_ns[i - s.warmup] = t;
        }
        m.cpu_us_per_rt = double(process_cpu_ns() - cpu0) / 1000.0 / double(total);
    });
}

/// The shm variant of variants_blocking.cpp with co_await on the semaphores.
struct shm_async {
    static constexpr bool checks_seq = true;
    static std::size_t stride(std::size_t size) { return (size + 63) / 64 * 64; }
    static void create(const cell_spec& s) {
        create_sems(s);
        pipc::shared_memory::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.size = stride(s.size) * std::size_t(s.depth);
        pipc::shared_memory seg(s.names[2], o);
    }
    shm_async(asio::io_context& ctx, const cell_spec& s, bool initiator)
        : in_(ctx, in_name(s, initiator)), out_(ctx, out_name(s, initiator)), depth_(s.depth),
          stride_(stride(s.size)) {
        pipc::shared_memory seg(s.names[2]);
        map_ = seg.map();
    }
    std::byte* slot(std::uint64_t k) const {
        return map_.data() + (k % std::uint64_t(depth_)) * stride_;
    }
    asio::awaitable<void> send(const std::byte* p, std::size_t n) {
        std::memcpy(slot(0), p, n);
        out_.release();
        co_return;
    }
    asio::awaitable<void> recv(std::byte* p, std::size_t n) {
        co_await in_.async_acquire(asio::use_awaitable);
        std::memcpy(p, slot(0), n);
    }
    void tput_begin_initiator() { out_.release(depth_); }
    asio::awaitable<void> tput_send(const std::byte* p, std::size_t n) {
        co_await in_.async_acquire(asio::use_awaitable);
        std::memcpy(slot(k_++), p, n);
        out_.release();
    }
    asio::awaitable<void> tput_recv(std::byte* p, std::size_t n) {
        co_await in_.async_acquire(asio::use_awaitable);
        std::memcpy(p, slot(k_++), n);
        out_.release();
    }

    pipc::async_semaphore in_, out_;
    pipc::mapping map_;
    long depth_;
    std::size_t stride_;
    std::uint64_t k_ = 0;
};

} // namespace
#endif

#ifdef PIPC_BENCH_ASYNC_CHANNEL
namespace {

/// Two spsc channels (one per direction), both sides asynchronous. ZeroCopy: async_loan and
/// publish to send, async_receive_view and release to receive (the receiver still copies the
/// message out, to check it, as every variant does). Spin: both handles' wait strategy (an
/// operation that cannot finish at its first try spins in its initiation, then waits on the
/// doorbell). Deferred (copying only): the operations awaited with the `deferred` token, Asio's
/// default token from Boost 1.87, instead of `use_awaitable`; an operation that completes at once
/// then resumes the coroutine from the library's trampoline (async_channel.hpp, "Completion at
/// once") instead of through use_awaitable's handler.
template <bool ZeroCopy, spin_mode Spin = spin_mode::block, bool Deferred = false>
struct channel_async {
    static_assert(!(ZeroCopy && Deferred), "the deferred variants are copying ones");
    static constexpr bool checks_seq = true;
    static void create(const cell_spec& s) {
        pipc::channel::options o;
        o.open = pipc::open_mode::create_exclusive;
        std::uint32_t slots = 2;
        while (slots < std::uint32_t(s.depth)) slots *= 2;
        o.slot_count = slots;
        o.max_message_size = std::uint32_t(std::max<std::size_t>(s.size, 8));
        o.mode = pipc::channel_mode::spsc;
        for (int i = 0; i < 2; ++i) pipc::channel ch(s.names[i], o);
    }
    static pipc::channel::options opts() {
        pipc::channel::options o;
        o.wait = strategy_for(Spin);
        return o;
    }
    channel_async(asio::io_context& ctx, const cell_spec& s, bool initiator)
        : in_(ctx, in_name(s, initiator), opts()), out_(ctx, out_name(s, initiator), opts()) {}
    // Copying: the library's awaitables themselves, as the queue's (see direct_ops). Zero-copy
    // needs a step after each completion (write and publish, read and release): a coroutine.
    static constexpr bool direct = !ZeroCopy;
    auto send(const std::byte* p, std::size_t n) {
        if constexpr (ZeroCopy)
            return send_in_place(p, n);
        else
            return out_.async_send(asio::buffer(p, n), token());
    }
    auto recv(std::byte* p, std::size_t n) {
        if constexpr (ZeroCopy)
            return receive_in_place(p, n);
        else
            return in_.async_receive(asio::buffer(p, n), token());
    }
    static auto token() {
        if constexpr (Deferred)
            return asio::deferred;
        else
            return asio::use_awaitable;
    }
    asio::awaitable<void> send_in_place(const std::byte* p, std::size_t n) {
        pipc::channel_loan loan = co_await out_.async_loan(asio::use_awaitable);
        std::memcpy(loan.buffer().data(), p, n);
        loan.publish(n);
    }
    asio::awaitable<void> receive_in_place(std::byte* p, std::size_t n) {
        pipc::channel_view v = co_await in_.async_receive_view(asio::use_awaitable);
        check_len(v.size(), n);
        std::memcpy(p, v.data().data(), n);
    }
    void tput_begin_initiator() {}
    auto tput_send(const std::byte* p, std::size_t n) { return send(p, n); }
    auto tput_recv(std::byte* p, std::size_t n) { return recv(p, n); }

    pipc::async_channel in_, out_;
};

/// async_cell, then removes the channels' doorbells (the engine unlinks the shm names only).
template <class E>
void channel_cell(const cell_spec& s, measurement& m) {
    struct cleanup {
        const cell_spec& s;
        ~cleanup() {
            for (const auto& n : s.names) {
                pipc::error_code ignored;
                pipc::unlink_channel(n, ignored);
            }
        }
    } done{s};
    async_cell<E>(s, m);
}

} // namespace
#endif

#if defined(PIPC_BENCH_PUBLIC_PATH_VARIANTS)
// This file compiled a second time with PIPC_ASIO_PUBLIC_REACTOR_PATH (bench/CMakeLists.txt): the
// same loops on the public-API wait path, side by side with the default reactor path.
void register_async_public_variants(std::vector<variant>& out) {
#ifdef PIPC_BENCH_ASYNC_MQ
    out.push_back(
        {"mq", "pipc-async-public", true, async_cell<mq_async<pipc::mq_backend::descriptor>>});
#endif
    (void)out;
}
#else
void register_async_variants(std::vector<variant>& out) {
#ifdef PIPC_BENCH_ASYNC_MQ
    constexpr auto descriptor = pipc::mq_backend::descriptor;
    out.push_back({"mq", "pipc-async", true, async_cell<mq_async<descriptor>>});
    out.push_back({"mq", spin_impl("pipc-async", spin_mode::spin), true,
                   async_cell<mq_async<descriptor, spin_mode::spin>>});
    out.push_back({"mq", spin_impl("pipc-async", spin_mode::adaptive), true,
                   async_cell<mq_async<descriptor, spin_mode::adaptive>>});
    out.push_back(
        {"mq", "pipc-async-notify", true, async_cell<mq_async<pipc::mq_backend::notify>>});
#endif
#ifdef PIPC_BENCH_ASYNC_SEM
    out.push_back({"sem", "pipc-async", false, async_cell<sem_async<>>});
    out.push_back({"sem", spin_impl("pipc-async", spin_mode::spin), false,
                   async_cell<sem_async<spin_mode::spin>>});
    out.push_back({"sem", spin_impl("pipc-async", spin_mode::adaptive), false,
                   async_cell<sem_async<spin_mode::adaptive>>});
    out.push_back({"shm", "pipc-async", true, async_cell<shm_async>});
    out.push_back({"sem", "raw-free", false, free_cell_raw});
    out.push_back({"sem", "pipc-async-free", false, free_cell_async<false>});
    out.push_back({"sem", "pipc-async-free-try", false, free_cell_async<true>});
#endif
#ifdef PIPC_BENCH_ASYNC_CHANNEL
    out.push_back({"channel", "pipc-async", true, channel_cell<channel_async<false>>});
    out.push_back({"channel", spin_impl("pipc-async", spin_mode::spin), true,
                   channel_cell<channel_async<false, spin_mode::spin>>});
    out.push_back({"channel", spin_impl("pipc-async", spin_mode::adaptive), true,
                   channel_cell<channel_async<false, spin_mode::adaptive>>});
    out.push_back({"channel", "pipc-async-zc", true, channel_cell<channel_async<true>>});
    out.push_back({"channel", "pipc-async-deferred", true,
                   channel_cell<channel_async<false, spin_mode::block, true>>});
    out.push_back({"channel", spin_impl("pipc-async-deferred", spin_mode::spin), true,
                   channel_cell<channel_async<false, spin_mode::spin, true>>});
#endif
    (void)out;
}

#endif

} // namespace pipc_bench::detail
