// SPDX-License-Identifier: BSL-1.0
// The blocking variants: raw POSIX floors written out directly, pipc's blocking API,
// Boost.Interprocess, pipc channels (copying and zero-copy), and pipe/eventfd kernel wake-up
// baselines.
//
// Each endpoint opens its own handles by name (so O_NONBLOCK and similar state is per process,
// as in a real deployment); the runner created the objects and unlinks them once both sides are
// open. Roles: names[0] carries initiator -> peer, names[1] peer -> initiator, names[2] is a
// shared-memory segment.
#include "cell.hpp"

#include <pipc/channel.hpp>
#include <pipc/message_queue.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/shared_memory.hpp>

#include <boost/interprocess/ipc/message_queue.hpp>

#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>

namespace pipc_bench::detail {
namespace {

namespace bip = boost::interprocess;

struct no_shared {};

/// Names of the two directions as seen from one side.
struct directions {
    const std::string& in;
    const std::string& out;
};
directions dirs(const cell_spec& s, bool initiator) {
    return initiator ? directions{s.names[1], s.names[0]} : directions{s.names[0], s.names[1]};
}

void check_len(std::size_t got, std::size_t want, const char* what) {
    if (got != want)
        fail(std::string(what) + ": message of " + std::to_string(got) + " bytes, expected " +
             std::to_string(want));
}

// ---- mq: raw blocking mq_send / mq_receive (the floor) ------------------------------------

void create_raw_queues(const cell_spec& s) {
    mq_attr a{};
    a.mq_maxmsg = s.depth;
    a.mq_msgsize = long(s.size);
    for (int i = 0; i < 2; ++i) {
        const mqd_t q = ::mq_open(s.names[i].c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &a);
        if (q == mqd_t(-1)) {
            if (errno == EINVAL)
                fail("mq_open(O_CREAT): EINVAL: depth " + std::to_string(s.depth) + " or size " +
                     std::to_string(s.size) + " above /proc/sys/fs/mqueue/msg_max or msgsize_max");
            fail_errno("mq_open(O_CREAT) " + s.names[i]);
        }
        ::mq_close(q);
    }
}

struct mq_raw : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_raw_queues(s);
        return {};
    }
    mq_raw(const cell_spec& s, bool initiator, shared&) : depth_(s.depth) {
        const auto d = dirs(s, initiator);
        in_ = ::mq_open(d.in.c_str(), O_RDONLY);
        if (in_ == mqd_t(-1)) fail_errno("mq_open " + d.in);
        out_ = ::mq_open(d.out.c_str(), O_WRONLY);
        if (out_ == mqd_t(-1)) fail_errno("mq_open " + d.out);
    }
    ~mq_raw() {
        ::mq_close(in_);
        ::mq_close(out_);
    }
    void send(const std::byte* p, std::size_t n) {
        while (::mq_send(out_, reinterpret_cast<const char*>(p), n, 0) == -1)
            if (errno != EINTR) fail_errno("mq_send");
    }
    void recv(std::byte* p, std::size_t n) {
        ssize_t r;
        while ((r = ::mq_receive(in_, reinterpret_cast<char*>(p), n, nullptr)) == -1)
            if (errno != EINTR) fail_errno("mq_receive");
        check_len(std::size_t(r), n, "mq_receive");
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return depth_; }

    mqd_t in_ = -1, out_ = -1;
    long depth_;
};

// ---- mq: the floor of a spinning queue wait --------------------------------------------------

/// The bare loop a spinning receive is measured against: poll an O_NONBLOCK descriptor of the
/// queue with mq_receive for up to the default spin budget (20 us, one clock read per poll, no
/// pause, no bookkeeping), then block on a second, blocking descriptor. Sends are plain mq_send.
struct mq_raw_spin : mq_raw {
    static constexpr std::int64_t budget_ns = 20000; // pipc::wait_strategy::spin()'s default
    mq_raw_spin(const cell_spec& s, bool initiator, shared& sh) : mq_raw(s, initiator, sh) {
        const auto in = dirs(s, initiator).in;
        in_nb_ = ::mq_open(in.c_str(), O_RDONLY | O_NONBLOCK);
        if (in_nb_ == mqd_t(-1)) fail_errno("mq_open(O_NONBLOCK) " + in);
    }
    ~mq_raw_spin() { ::mq_close(in_nb_); }
    void recv(std::byte* p, std::size_t n) {
        auto* buf = reinterpret_cast<char*>(p);
        const std::int64_t start = now_ns();
        do {
            const ssize_t r = ::mq_receive(in_nb_, buf, n, nullptr);
            if (r >= 0) return check_len(std::size_t(r), n, "mq_receive(O_NONBLOCK)");
            if (errno != EAGAIN && errno != EINTR) fail_errno("mq_receive(O_NONBLOCK)");
        } while (now_ns() - start < budget_ns);
        mq_raw::recv(p, n); // the budget ran out: block on the blocking descriptor
    }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }

    mqd_t in_nb_ = -1;
};

// ---- mq: O_NONBLOCK + a bare level-triggered epoll loop (the floor for any event loop) -----

struct mq_raw_epoll : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_raw_queues(s);
        return {};
    }
    mq_raw_epoll(const cell_spec& s, bool initiator, shared&) : depth_(s.depth) {
        const auto d = dirs(s, initiator);
        in_ = ::mq_open(d.in.c_str(), O_RDONLY | O_NONBLOCK);
        if (in_ == mqd_t(-1)) fail_errno("mq_open " + d.in);
        out_ = ::mq_open(d.out.c_str(), O_WRONLY | O_NONBLOCK);
        if (out_ == mqd_t(-1)) fail_errno("mq_open " + d.out);
        ep_in_ = make_epoll(in_, EPOLLIN);
        ep_out_ = make_epoll(out_, EPOLLOUT);
    }
    ~mq_raw_epoll() {
        ::close(ep_in_);
        ::close(ep_out_);
        ::mq_close(in_);
        ::mq_close(out_);
    }
    static int make_epoll(int fd, std::uint32_t events) {
        const int ep = ::epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0) fail_errno("epoll_create1");
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) fail_errno("epoll_ctl");
        return ep;
    }
    static void wait(int ep) {
        epoll_event ev;
        while (::epoll_wait(ep, &ev, 1, -1) < 0)
            if (errno != EINTR) fail_errno("epoll_wait");
    }
    void send(const std::byte* p, std::size_t n) {
        for (;;) {
            if (::mq_send(out_, reinterpret_cast<const char*>(p), n, 0) == 0) return;
            if (errno == EAGAIN)
                wait(ep_out_);
            else if (errno != EINTR)
                fail_errno("mq_send");
        }
    }
    void recv(std::byte* p, std::size_t n) {
        for (;;) {
            const ssize_t r = ::mq_receive(in_, reinterpret_cast<char*>(p), n, nullptr);
            if (r >= 0) return check_len(std::size_t(r), n, "mq_receive");
            if (errno == EAGAIN)
                wait(ep_in_);
            else if (errno != EINTR)
                fail_errno("mq_receive");
        }
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return depth_; }

    mqd_t in_ = -1, out_ = -1;
    int ep_in_ = -1, ep_out_ = -1;
    long depth_;
};

// ---- mq: pipc blocking calls --------------------------------------------------------------

template <spin_mode Spin = spin_mode::block>
struct mq_pipc : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        pipc::message_queue::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.max_messages = s.depth;
        o.max_message_size = long(s.size);
        for (int i = 0; i < 2; ++i) pipc::message_queue q(s.names[i], o);
        return {};
    }
    mq_pipc(const cell_spec& s, bool initiator, shared&) : depth_(s.depth) {
        const auto d = dirs(s, initiator);
        pipc::message_queue::options o;
        o.wait = strategy_for(Spin);
        o.access = pipc::access::read_only;
        in_.open(d.in, o);
        o.access = pipc::access::write_only;
        out_.open(d.out, o);
    }
    void send(const std::byte* p, std::size_t n) { out_.send(std::span<const std::byte>(p, n)); }
    void recv(std::byte* p, std::size_t n) {
        check_len(in_.receive(std::span<std::byte>(p, n)).size, n, "message_queue::receive");
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return depth_; }

    pipc::message_queue in_, out_;
    long depth_;
};

// ---- mq: Boost.Interprocess message_queue (shm + process-shared mutex/condvar) -----------

struct mq_bip : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    // Boost.Interprocess adds the leading '/' itself (the object lands in /dev/shm).
    static std::string bip_name(const std::string& n) { return n.substr(1); }
    static shared create(const cell_spec& s) {
        for (int i = 0; i < 2; ++i)
            bip::message_queue q(bip::create_only, bip_name(s.names[i]).c_str(),
                                 std::size_t(s.depth), s.size);
        return {};
    }
    mq_bip(const cell_spec& s, bool initiator, shared&)
        : in_(bip::open_only, bip_name(dirs(s, initiator).in).c_str()),
          out_(bip::open_only, bip_name(dirs(s, initiator).out).c_str()), depth_(s.depth) {}
    void send(const std::byte* p, std::size_t n) { out_.send(p, n, 0); }
    void recv(std::byte* p, std::size_t n) {
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        in_.receive(p, n, got, prio);
        check_len(got, n, "bip::message_queue::receive");
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return depth_; }

    bip::message_queue in_, out_;
    long depth_;
};

// ---- channel: pipc::channel, one per direction --------------------------------------------

/// The slot count: the requested depth rounded up to a power of two (at least 2).
std::uint32_t channel_slots(long depth) {
    std::uint32_t n = 2;
    while (n < std::uint64_t(std::max(depth, 2L)) && n < pipc::channel::max_slot_count) n *= 2;
    return n;
}

/// `default_capacity`: the channel's own default slot count (the `-cap64` variants) instead of
/// the queue depth rounded up to a power of two.
void create_channels(const cell_spec& s, bool default_capacity) {
    pipc::channel::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.slot_count = default_capacity ? 0 : channel_slots(s.depth);
    o.max_message_size = std::uint32_t(s.size);
    for (int i = 0; i < 2; ++i) pipc::channel c(s.names[i], o);
}

/// Copying calls: send() copies the message into a slot, receive() copies it out; both sides
/// wait with the wait strategy `Spin` names.
template <spin_mode Spin = spin_mode::block, bool DefaultCapacity = false>
struct channel_pipc : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_channels(s, DefaultCapacity);
        return {};
    }
    static pipc::channel::options opts() {
        pipc::channel::options o;
        o.wait = strategy_for(Spin);
        return o;
    }
    channel_pipc(const cell_spec& s, bool initiator, shared&)
        : in_(dirs(s, initiator).in, opts()), out_(dirs(s, initiator).out, opts()) {}
    void send(const std::byte* p, std::size_t n) { out_.send(std::span<const std::byte>(p, n)); }
    void recv(std::byte* p, std::size_t n) {
        check_len(in_.receive(std::span<std::byte>(p, n)), n, "channel::receive");
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return long(out_.slot_count()); }

    pipc::channel in_, out_;
};

/// Zero-copy calls: the sender loans a slot, writes the message in place and publishes it; the
/// receiver reads it in place through a view and releases it. As a zero-copy user that builds
/// its message in the slot, only the bytes it writes are touched: here the 8-byte sequence
/// number (the rest of the slot is whatever it was), so no payload copy happens on either side.
template <bool DefaultCapacity = false>
struct channel_pipc_zc : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_channels(s, DefaultCapacity);
        return {};
    }
    channel_pipc_zc(const cell_spec& s, bool initiator, shared&)
        : in_(dirs(s, initiator).in), out_(dirs(s, initiator).out) {}
    void send(const std::byte* p, std::size_t n) {
        auto loan = out_.loan();
        seq_put(loan.buffer().data(), seq_get(p));
        loan.publish(n);
    }
    void recv(std::byte* p, std::size_t n) {
        auto view = in_.receive_view();
        check_len(view.size(), n, "channel::receive_view");
        seq_put(p, seq_get(view.data().data()));
        view.release();
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return long(out_.slot_count()); }

    pipc::channel in_, out_;
};

// ---- sem: raw sem_post / sem_wait ping-pong (the floor); stream = credit window ----------

void create_raw_sems(const cell_spec& s) {
    for (int i = 0; i < 2; ++i) {
        sem_t* p = ::sem_open(s.names[i].c_str(), O_CREAT | O_EXCL, 0600, 0u);
        if (p == SEM_FAILED) fail_errno("sem_open(O_CREAT) " + s.names[i]);
        ::sem_close(p);
    }
}

// The stream phase of every semaphore-based variant is a credit window: the initiator grants
// `depth` credits on the outbound semaphore; the peer takes a credit per message and posts the
// inbound one; the initiator takes a message and returns a credit. So at most `depth` are in
// flight, like a queue of that capacity.
struct sem_raw {
    static constexpr bool checks_seq = false;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_raw_sems(s);
        return {};
    }
    sem_raw(const cell_spec& s, bool initiator, shared&) : depth_(s.depth) {
        const auto d = dirs(s, initiator);
        in_ = ::sem_open(d.in.c_str(), 0);
        if (in_ == SEM_FAILED) fail_errno("sem_open " + d.in);
        out_ = ::sem_open(d.out.c_str(), 0);
        if (out_ == SEM_FAILED) fail_errno("sem_open " + d.out);
    }
    ~sem_raw() {
        ::sem_close(in_);
        ::sem_close(out_);
    }
    void send(const std::byte*, std::size_t) {
        if (::sem_post(out_) != 0) fail_errno("sem_post");
    }
    void recv(std::byte*, std::size_t) {
        while (::sem_wait(in_) != 0)
            if (errno != EINTR) fail_errno("sem_wait");
    }
    void tput_begin_initiator() {
        for (long i = 0; i < depth_; ++i) send(nullptr, 0);
    }
    void tput_begin_peer() {}
    void tput_send(const std::byte* p, std::size_t n) {
        recv(nullptr, 0);
        send(p, n);
    }
    void tput_recv(std::byte* p, std::size_t n) {
        recv(p, n);
        send(nullptr, 0);
    }
    long depth() const { return depth_; }

    sem_t* in_ = nullptr;
    sem_t* out_ = nullptr;
    long depth_;
};

// ---- sem: pipc blocking calls -------------------------------------------------------------

void create_pipc_sems(const cell_spec& s) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    for (int i = 0; i < 2; ++i) pipc::semaphore sem(s.names[i], o);
}

template <spin_mode Spin = spin_mode::block>
struct sem_pipc {
    static constexpr bool checks_seq = false;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_pipc_sems(s);
        return {};
    }
    static pipc::semaphore::options opts() {
        pipc::semaphore::options o;
        o.wait = strategy_for(Spin);
        return o;
    }
    sem_pipc(const cell_spec& s, bool initiator, shared&)
        : in_(dirs(s, initiator).in, opts()), out_(dirs(s, initiator).out, opts()),
          depth_(s.depth) {}
    void send(const std::byte*, std::size_t) { out_.release(); }
    void recv(std::byte*, std::size_t) { in_.acquire(); }
    void tput_begin_initiator() { out_.release(depth_); }
    void tput_begin_peer() {}
    void tput_send(const std::byte*, std::size_t) {
        in_.acquire();
        out_.release();
    }
    void tput_recv(std::byte*, std::size_t) {
        in_.acquire();
        out_.release();
    }
    long depth() const { return depth_; }

    pipc::semaphore in_, out_;
    long depth_;
};

// ---- shm: a slot in a pipc segment, handed back and forth with pipc semaphores ------------

/// Slots are cache-line aligned; the ping-pong uses slot 0, the stream a ring of `depth` slots.
std::size_t slot_stride(std::size_t size) {
    return (size + 63) / 64 * 64;
}

struct shm_pipc {
    static constexpr bool checks_seq = true;
    using shared = no_shared;
    static shared create(const cell_spec& s) {
        create_pipc_sems(s);
        pipc::shared_memory::options o;
        o.open = pipc::open_mode::create_exclusive;
        o.size = slot_stride(s.size) * std::size_t(s.depth);
        pipc::shared_memory seg(s.names[2], o);
        return {};
    }
    shm_pipc(const cell_spec& s, bool initiator, shared&)
        : in_(dirs(s, initiator).in), out_(dirs(s, initiator).out), depth_(s.depth),
          stride_(slot_stride(s.size)) {
        pipc::shared_memory seg(s.names[2]);
        map_ = seg.map();
    }
    std::byte* slot(std::uint64_t k) const {
        return map_.data() + (k % std::uint64_t(depth_)) * stride_;
    }
    void send(const std::byte* p, std::size_t n) {
        std::memcpy(slot(0), p, n);
        out_.release();
    }
    void recv(std::byte* p, std::size_t n) {
        in_.acquire();
        std::memcpy(p, slot(0), n);
    }
    void tput_begin_initiator() { out_.release(depth_); }
    void tput_begin_peer() {}
    void tput_send(const std::byte* p, std::size_t n) {
        in_.acquire();
        std::memcpy(slot(k_++), p, n);
        out_.release();
    }
    void tput_recv(std::byte* p, std::size_t n) {
        in_.acquire();
        std::memcpy(p, slot(k_++), n);
        out_.release();
    }
    long depth() const { return depth_; }

    pipc::semaphore in_, out_;
    pipc::mapping map_;
    long depth_;
    std::size_t stride_;
    std::uint64_t k_ = 0;
};

// ---- pipe and eventfd: kernel wake-up baselines (inherited across fork, no names) ----------

struct fd_pair {
    int ab[2] = {-1, -1}; ///< initiator -> peer: [read end, write end]
    int ba[2] = {-1, -1}; ///< peer -> initiator
};

struct pipe_ep : stream_is_pingpong {
    static constexpr bool checks_seq = true;
    using shared = fd_pair;
    static shared create(const cell_spec&) {
        fd_pair f;
        if (::pipe2(f.ab, O_CLOEXEC) != 0 || ::pipe2(f.ba, O_CLOEXEC) != 0) fail_errno("pipe2");
        return f;
    }
    pipe_ep(const cell_spec&, bool initiator, shared& f)
        : in_(initiator ? f.ba[0] : f.ab[0]), out_(initiator ? f.ab[1] : f.ba[1]) {}
    void send(const std::byte* p, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::write(out_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail_errno("write(pipe)");
            }
            p += w;
            n -= std::size_t(w);
        }
    }
    void recv(std::byte* p, std::size_t n) {
        while (n > 0) {
            const ssize_t r = ::read(in_, p, n);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                if (r == 0) fail("pipe closed by the other side");
                fail_errno("read(pipe)");
            }
            p += r;
            n -= std::size_t(r);
        }
    }
    void tput_send(const std::byte* p, std::size_t n) { send(p, n); }
    void tput_recv(std::byte* p, std::size_t n) { recv(p, n); }
    long depth() const { return 0; }

    int in_, out_;
};

/// The sequence number rides in the counter itself (seq + 1, so never 0). The stream phase is a
/// credit window of `depth` like the semaphores', except that counts coalesce: a read takes every
/// message (or credit) posted so far, as in any eventfd user, and the reader hands all the
/// credits back at once.
struct eventfd_ep {
    static constexpr bool checks_seq = true;
    using shared = fd_pair;
    static shared create(const cell_spec&) {
        fd_pair f;
        f.ab[0] = f.ab[1] = ::eventfd(0, EFD_CLOEXEC);
        f.ba[0] = f.ba[1] = ::eventfd(0, EFD_CLOEXEC);
        if (f.ab[0] < 0 || f.ba[0] < 0) fail_errno("eventfd");
        return f;
    }
    eventfd_ep(const cell_spec& s, bool initiator, shared& f)
        : in_(initiator ? f.ba[0] : f.ab[0]), out_(initiator ? f.ab[1] : f.ba[1]), depth_(s.depth) {
    }
    void put(std::uint64_t v) {
        while (::write(out_, &v, 8) != 8)
            if (errno != EINTR) fail_errno("write(eventfd)");
    }
    std::uint64_t take() {
        std::uint64_t v;
        while (::read(in_, &v, 8) != 8)
            if (errno != EINTR) fail_errno("read(eventfd)");
        return v;
    }
    void send(const std::byte* p, std::size_t) { put(seq_get(p) + 1); }
    void recv(std::byte* p, std::size_t) { seq_put(p, take() - 1); }
    // The first credits are granted only after the last echo was read, so the stream never
    // adds to a counter that still holds an echo.
    void tput_begin_initiator() { put(std::uint64_t(depth_)); }
    void tput_begin_peer() {}
    void tput_send(const std::byte*, std::size_t) {
        if (credits_ == 0) credits_ = take();
        --credits_;
        put(1);
    }
    void tput_recv(std::byte* p, std::size_t) {
        if (pending_ == 0) {
            pending_ = take();
            put(pending_);
        }
        --pending_;
        seq_put(p, count_++);
    }
    long depth() const { return depth_; }

    int in_, out_;
    long depth_;
    std::uint64_t pending_ = 0, count_ = 0, credits_ = 0;
};

template <class E>
void blocking_cell(const cell_spec& s, measurement& m) {
    auto sh = E::create(s);
    const std::size_t bufsize = std::max<std::size_t>(s.size, 8);
    run_pair(
        s,
        [&](pair_sync& ps) {
            E e(s, false, sh);
            ps.ready();
            std::vector<std::byte> buf(bufsize);
            peer_blocking(e, s, buf, ps);
        },
        [&](pair_sync& ps) {
            E e(s, true, sh);
            ps.wait_ready();
            std::vector<std::byte> buf(bufsize);
            initiator_blocking(e, s, buf, m, ps);
            m.depth = e.depth();
        });
}

} // namespace

void register_blocking_variants(std::vector<variant>& out) {
    out.push_back({"mq", "raw", true, blocking_cell<mq_raw>});
    out.push_back({"mq", "raw-epoll", true, blocking_cell<mq_raw_epoll>});
    out.push_back({"mq", "raw-spin", true, blocking_cell<mq_raw_spin>});
    out.push_back({"mq", "pipc-blocking", true, blocking_cell<mq_pipc<>>});
    out.push_back({"mq", spin_impl("pipc-blocking", spin_mode::spin), true,
                   blocking_cell<mq_pipc<spin_mode::spin>>});
    out.push_back({"mq", spin_impl("pipc-blocking", spin_mode::adaptive), true,
                   blocking_cell<mq_pipc<spin_mode::adaptive>>});
    out.push_back({"mq", "boost-interprocess", true, blocking_cell<mq_bip>});
    out.push_back({"channel", "pipc-blocking", true, blocking_cell<channel_pipc<>>});
    out.push_back({"channel", spin_impl("pipc-blocking", spin_mode::spin), true,
                   blocking_cell<channel_pipc<spin_mode::spin>>});
    out.push_back({"channel", spin_impl("pipc-blocking", spin_mode::adaptive), true,
                   blocking_cell<channel_pipc<spin_mode::adaptive>>});
    out.push_back({"channel", "pipc-blocking-zc", true, blocking_cell<channel_pipc_zc<>>});
    // The same at the channel's default capacity (64 slots), beside the equal-depth ones above.
    out.push_back({"channel", "pipc-blocking-cap64", true,
                   blocking_cell<channel_pipc<spin_mode::block, true>>});
    out.push_back(
        {"channel", "pipc-blocking-zc-cap64", true, blocking_cell<channel_pipc_zc<true>>});
    out.push_back({"sem", "raw", false, blocking_cell<sem_raw>});
    out.push_back({"sem", "pipc-blocking", false, blocking_cell<sem_pipc<>>});
    out.push_back({"sem", spin_impl("pipc-blocking", spin_mode::spin), false,
                   blocking_cell<sem_pipc<spin_mode::spin>>});
    out.push_back({"sem", spin_impl("pipc-blocking", spin_mode::adaptive), false,
                   blocking_cell<sem_pipc<spin_mode::adaptive>>});
    out.push_back({"shm", "pipc-blocking", true, blocking_cell<shm_pipc>});
    out.push_back({"pipe", "raw", true, blocking_cell<pipe_ep>});
    out.push_back({"eventfd", "raw", false, blocking_cell<eventfd_ep>});
}

} // namespace pipc_bench::detail
