// SPDX-License-Identifier: BSL-1.0
// The wait strategies of pipc::semaphore and pipc::message_queue: the default makes exactly the
// calls it made before strategies existed, a spinning wait polls and then sleeps as before, and
// deadlines, signals and errors are unchanged. Checked by counting calls through the syscall
// table and by the strategies' state, never by timing.
#define BOOST_TEST_MODULE pipc wait strategies of the objects
#include <boost/test/unit_test.hpp>

#include <pipc/message_queue.hpp>
#include <pipc/semaphore.hpp>
#include <pipc/wait_strategy.hpp>

#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include <dirent.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using pipc::wait_strategy;
using pipc_test::named;
using kind = pipc::object_kind;

namespace {

// Calls counted by the table below (atomics: the threaded cases count from two threads).
struct counts {
    std::atomic<int> sem_trywait{0}, sem_wait{0}, sem_clockwait{0};
    std::atomic<int> mq_open{0}, mq_timedreceive{0}, mq_timedsend{0}, ppoll{0}, fstat{0};
    // The main descriptor's blocking receive / send (no timeout): the sleep after a spin.
    std::atomic<int> sleeping_receive{0}, sleeping_send{0};
    // Polls on another descriptor than the queue's own: the O_NONBLOCK poll descriptor.
    std::atomic<int> foreign_descriptor_calls{0};
    std::atomic<::mqd_t> main_mqd{-1};
};
counts* g = nullptr;
// The semaphore a test's fake peer posts to from inside a poll.
::sem_t* g_post_to = nullptr;
// Signalled when a blocking call is about to sleep (so the peer can act without sleeps).
pipc_test::handshake* g_sleeping = nullptr;

// Counts every call of interest and passes it on to the real table.
class counting_scope {
public:
    counting_scope() {
        g = &c_;
        auto& t = faults_.table();
        t.sem_trywait = [](::sem_t* s) {
            ++g->sem_trywait;
            return pipc::detail::real_sys().sem_trywait(s);
        };
        t.sem_wait = [](::sem_t* s) {
            ++g->sem_wait;
            if (g_sleeping) g_sleeping->signal();
            return pipc::detail::real_sys().sem_wait(s);
        };
        t.sem_clockwait = [](::sem_t* s, ::clockid_t c, const ::timespec* abs) {
            ++g->sem_clockwait;
            return pipc::detail::real_sys().sem_clockwait(s, c, abs);
        };
        t.mq_open = [](const char* n, int f, ::mode_t m, ::mq_attr* a) {
            ++g->mq_open;
            return pipc::detail::real_sys().mq_open(n, f, m, a);
        };
        t.fstat = [](int fd, struct ::stat* st) {
            ++g->fstat;
            return pipc::detail::real_sys().fstat(fd, st);
        };
        t.ppoll = [](::pollfd* f, ::nfds_t n, const ::timespec* to, const ::sigset_t* m) {
            ++g->ppoll;
            return pipc::detail::real_sys().ppoll(f, n, to, m);
        };
        t.mq_timedreceive = [](::mqd_t q, char* b, std::size_t n, unsigned* p,
                               const ::timespec* to) {
            ++g->mq_timedreceive;
            if (g->main_mqd != -1 && q != g->main_mqd) ++g->foreign_descriptor_calls;
            if (!to && q == g->main_mqd) {
                ++g->sleeping_receive;
                if (g_sleeping) g_sleeping->signal();
            }
            return pipc::detail::real_sys().mq_timedreceive(q, b, n, p, to);
        };
        t.mq_timedsend = [](::mqd_t q, const char* b, std::size_t n, unsigned p,
                            const ::timespec* to) {
            ++g->mq_timedsend;
            if (g->main_mqd != -1 && q != g->main_mqd) ++g->foreign_descriptor_calls;
            if (!to && q == g->main_mqd) {
                ++g->sleeping_send;
                if (g_sleeping) g_sleeping->signal();
            }
            return pipc::detail::real_sys().mq_timedsend(q, b, n, p, to);
        };
    }
    ~counting_scope() {
        g_sleeping = nullptr;
        g = nullptr;
    }
    counting_scope(const counting_scope&) = delete;
    counting_scope& operator=(const counting_scope&) = delete;
    counts& operator*() noexcept { return c_; }
    counts* operator->() noexcept { return &c_; }

private:
    pipc_test::fault_scope faults_; // restored last: after g is cleared
    counts c_;
};

pipc::semaphore::options sem_opts(unsigned initial, wait_strategy w = {}) {
    pipc::semaphore::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.initial_value = initial;
    o.wait = w;
    return o;
}

pipc::message_queue::options mq_opts(wait_strategy w = {}) {
    pipc::message_queue::options o;
    o.open = pipc::open_mode::create_exclusive;
    o.max_messages = 2;
    o.max_message_size = 16;
    o.wait = w;
    return o;
}

int open_descriptors() {
    int n = 0;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return -1;
    while (::readdir(d)) ++n;
    ::closedir(d);
    return n;
}

} // namespace

// ---- the default path ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_semaphore_makes_the_calls_it_always_made) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(3));
    BOOST_TEST((s.strategy().type() == wait_strategy::kind::block));
    counting_scope c;
    s.acquire();
    BOOST_TEST(c->sem_wait == 1);
    BOOST_TEST(c->sem_trywait == 0); // no poll before the wait
    BOOST_TEST(s.try_acquire_for(10ms));
    BOOST_TEST(c->sem_clockwait == 1);
    BOOST_TEST(c->sem_trywait == 0);
    BOOST_TEST(s.try_acquire_for(0ms)); // the third unit: a single clockwait
    BOOST_TEST(c->sem_clockwait == 2);
    BOOST_TEST(c->sem_trywait == 0);
}

BOOST_AUTO_TEST_CASE(default_queue_makes_the_calls_it_always_made) {
    named n(kind::message_queue);
    counting_scope c;
    pipc::message_queue q(n, mq_opts());
    BOOST_TEST(c->mq_open == 1); // no second (poll) descriptor
    BOOST_TEST(c->fstat == 0);
    c->main_mqd = q.native_handle();
    q.send("a");
    BOOST_TEST(c->mq_timedsend == 1);
    BOOST_TEST(c->sleeping_send == 1); // straight to the blocking call
    std::byte buf[16];
    BOOST_TEST(q.receive(buf).size == 1);
    BOOST_TEST(c->mq_timedreceive == 1);
    BOOST_TEST(c->sleeping_receive == 1);
    BOOST_TEST(!q.receive_for(buf, 0ms)); // one try, no poll, no ppoll for a zero timeout
    BOOST_TEST(c->mq_timedreceive == 2);
    BOOST_TEST(c->ppoll == 0);
    BOOST_TEST(c->foreign_descriptor_calls == 0);
}

// ---- semaphore -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(spinning_semaphore_polls_then_sleeps_as_before,
                     *boost::unit_test::label("threaded")) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(0, wait_strategy::spin(200us)));
    counting_scope c;
    pipc_test::handshake sleeping;
    g_sleeping = &sleeping;
    std::thread releaser([&] {
        sleeping.wait(); // the waiter has spun out its budget and sleeps in sem_wait
        s.release();
    });
    s.acquire();
    releaser.join();
    BOOST_TEST(c->sem_trywait > 1); // it polled ...
    BOOST_TEST(c->sem_wait == 1);   // ... then slept exactly as the default does
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(spinning_semaphore_is_served_while_spinning,
                     *boost::unit_test::label("threaded")) {
    named n(kind::semaphore);
    // A budget far longer than the releaser needs to run, even on a loaded machine.
    pipc::semaphore s(n, sem_opts(0, wait_strategy::spin(2s)));
    counting_scope c;
    pipc_test::handshake started;
    std::thread releaser([&] {
        started.wait();
        s.release();
    });
    started.signal();
    s.acquire();
    releaser.join();
    BOOST_TEST(c->sem_trywait >= 1);
    BOOST_TEST(c->sem_wait == 0); // served by a poll: never slept
}

BOOST_AUTO_TEST_CASE(spinning_semaphore_honours_the_deadline) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(0, wait_strategy::spin(1s)));
    counting_scope c;
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!s.try_acquire_for(20ms));
    // The spin stopped at the deadline (not after its 1 s budget), then the timed wait made its
    // last try and reported the timeout as before.
    BOOST_TEST((std::chrono::steady_clock::now() - start < 900ms));
    BOOST_TEST(c->sem_trywait > 0);
    BOOST_TEST(c->sem_clockwait == 1);
    // A spin cut short by the deadline teaches adaptive nothing.
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(spinning_semaphore_keeps_the_signal_policy) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(0, wait_strategy::spin(50us)));
    s.set_signal_policy(pipc::signal_policy::report);
    pipc_test::fault_scope faults;
    faults.table().sem_wait = [](::sem_t*) {
        errno = EINTR; // a signal arrived while sleeping after the spin
        return -1;
    };
    pipc::error_code ec;
    s.acquire(ec);
    BOOST_TEST(ec == pipc::error_code(EINTR, boost::system::system_category()));
    // An error a poll meets is the error the sleeping call would report.
    faults.table().sem_trywait = [](::sem_t*) {
        errno = EINVAL;
        return -1;
    };
    s.acquire(ec);
    BOOST_TEST(ec == pipc::error_code(EINVAL, boost::system::system_category()));
}

BOOST_AUTO_TEST_CASE(adaptive_semaphore_stops_spinning_when_spins_do_not_pay) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(0, wait_strategy::adaptive(20us, 2)));
    for (unsigned i = 0; i < wait_strategy::collapse_after; ++i) {
        BOOST_TEST(!s.strategy().collapsed());
        BOOST_TEST(!s.try_acquire_for(1ms)); // longer than the budget: not cut short
    }
    BOOST_TEST(s.strategy().collapsed());
}

BOOST_AUTO_TEST_CASE(adaptive_semaphore_never_spins_on_a_one_cpu_strategy) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(0, wait_strategy::adaptive(20us, 1)));
    counting_scope c;
    BOOST_TEST(!s.try_acquire_for(5ms));
    BOOST_TEST(s.strategy().single_cpu());
    BOOST_TEST(c->sem_trywait == 0); // no poll at all, straight to the sleep
    BOOST_TEST(c->sem_clockwait == 1);
}

BOOST_AUTO_TEST_CASE(adaptive_semaphore_on_a_pinned_thread_spins_and_learns) {
    if (pipc::detail::online_cpu_count() < 2) return; // nothing to learn: never spins
    named n(kind::semaphore);
    const std::string name = n.str();
    // In a child pinned to one CPU (its peer could run on any other): the default adaptive()
    // spins; a spin served by the peer is kept, and spins that run out collapse it.
    pipc_test::child_process child([&] {
        ::cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (::sched_setaffinity(0, sizeof(set), &set) != 0) return false;
        pipc::semaphore s(name, sem_opts(0, wait_strategy::adaptive(2ms)));
        if (s.strategy().single_cpu()) return false;
        {
            counting_scope c;
            // The "peer" posts once the waiter has polled twice in vain: a spin it served.
            g_post_to = s.native_handle();
            pipc::detail::sys().sem_trywait = [](::sem_t* sem) {
                if (++g->sem_trywait == 3) ::sem_post(g_post_to);
                return pipc::detail::real_sys().sem_trywait(sem);
            };
            const bool served = s.try_acquire_for(10s);
            if (!served || c->sem_trywait < 3 || c->sem_clockwait != 0) return false;
        }
        if (s.strategy().collapsed()) return false;
        // Spins that run out (5 ms > the 2 ms budget, so none is cut short by the deadline).
        for (unsigned i = 0; i < wait_strategy::collapse_after; ++i)
            if (s.try_acquire_for(5ms)) return false;
        return s.strategy().collapsed();
    });
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(semaphore_strategy_moves_and_can_be_replaced) {
    named n(kind::semaphore);
    pipc::semaphore s(n, sem_opts(0, wait_strategy::spin(7us)));
    pipc::semaphore t(std::move(s));
    BOOST_TEST((t.strategy().type() == wait_strategy::kind::spin));
    BOOST_TEST(t.strategy().max_budget() == 7us);
    t.set_wait_strategy(wait_strategy::block());
    counting_scope c;
    BOOST_TEST(!t.try_acquire_for(1ms));
    BOOST_TEST(c->sem_trywait == 0);
}

// ---- message queue -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(spinning_queue_polls_a_second_descriptor_then_sleeps,
                     *boost::unit_test::label("threaded")) {
    named n(kind::message_queue);
    pipc::message_queue q(n, mq_opts(wait_strategy::spin(200us)));
    pipc::message_queue sender(n, {});
    counting_scope c;
    c->main_mqd = q.native_handle();
    pipc_test::handshake sleeping;
    g_sleeping = &sleeping;
    std::thread t([&] {
        sleeping.wait();  // the receiver has spun out its budget and sleeps in the kernel
        g->main_mqd = -1; // count the sender's own call no more
        sender.send("late");
    });
    std::byte buf[16];
    const auto r = q.receive(buf);
    t.join();
    BOOST_TEST(r.size == 4);
    BOOST_TEST(c->foreign_descriptor_calls >= 1); // the polls used the O_NONBLOCK descriptor
    BOOST_TEST(c->sleeping_receive == 1);         // then it slept as the default does
}

BOOST_AUTO_TEST_CASE(spinning_queue_send_waits_for_room, *boost::unit_test::label("threaded")) {
    named n(kind::message_queue);
    pipc::message_queue q(n, mq_opts(wait_strategy::spin(2s)));
    q.send("1");
    q.send("2"); // full
    pipc::message_queue receiver(n, {});
    pipc_test::handshake started;
    std::thread t([&] {
        started.wait();
        std::byte buf[16];
        receiver.receive(buf);
    });
    counting_scope c;
    c->main_mqd = q.native_handle();
    started.signal();
    q.send("3"); // room appears while it spins (2 s is far more than the peer needs)
    t.join();
    BOOST_TEST(c->sleeping_send == 0);
    BOOST_TEST(q.current_messages() == 2);
}

BOOST_AUTO_TEST_CASE(spinning_queue_honours_the_deadline_and_loses_nothing) {
    named n(kind::message_queue);
    pipc::message_queue q(n, mq_opts(wait_strategy::spin(1s)));
    std::byte buf[16];
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!q.receive_for(buf, 20ms));
    BOOST_TEST(q.send_for("x", 0ms)); // room: sent at the first try
    q.send("y");
    BOOST_TEST(!q.send_for("z", 20ms)); // full: spins up to the deadline, times out
    BOOST_TEST((std::chrono::steady_clock::now() - start < 1800ms));
    BOOST_TEST(q.current_messages() == 2);
    BOOST_TEST(q.receive().text() == "x");
    BOOST_TEST(q.receive().text() == "y");
}

BOOST_AUTO_TEST_CASE(spinning_queue_without_its_name_polls_the_main_descriptor) {
    named n(kind::message_queue);
    pipc::message_queue q(n, mq_opts());
    q.unlink(); // the name is gone: no second descriptor can reach this queue
    counting_scope c;
    c->main_mqd = q.native_handle();
    q.set_wait_strategy(wait_strategy::spin(100us));
    std::byte buf[16];
    BOOST_TEST(!q.receive_for(buf, 5ms));
    BOOST_TEST(c->foreign_descriptor_calls == 0);
    BOOST_TEST(c->mq_timedreceive > 1); // polled with an expired timeout instead
    q.send("ok");
    BOOST_TEST(q.receive().text() == "ok");
}

BOOST_AUTO_TEST_CASE(spinning_queue_keeps_the_signal_policy) {
    named n(kind::message_queue);
    pipc::message_queue q(n, mq_opts(wait_strategy::spin(50us)));
    q.set_signal_policy(pipc::signal_policy::report);
    const ::mqd_t main = q.native_handle();
    static ::mqd_t s_main = -1;
    s_main = main;
    pipc_test::fault_scope faults;
    faults.table().mq_timedreceive = [](::mqd_t d, char* b, std::size_t len, unsigned* p,
                                        const ::timespec* to) -> ::ssize_t {
        if (d == s_main && !to) {
            errno = EINTR; // a signal while sleeping after the spin
            return -1;
        }
        return pipc::detail::real_sys().mq_timedreceive(d, b, len, p, to);
    };
    pipc::error_code ec;
    std::byte buf[16];
    q.receive(buf, ec);
    BOOST_TEST(ec == pipc::error_code(EINTR, boost::system::system_category()));
}

BOOST_AUTO_TEST_CASE(queue_poll_descriptor_follows_the_strategy_and_close) {
    named n(kind::message_queue);
    const int before = open_descriptors();
    {
        pipc::message_queue q(n, mq_opts(wait_strategy::adaptive()));
        BOOST_TEST(open_descriptors() == before + 2); // the queue and its poll descriptor
        q.set_wait_strategy(wait_strategy::block());
        BOOST_TEST(open_descriptors() == before + 1);
        q.set_wait_strategy(wait_strategy::spin());
        BOOST_TEST(open_descriptors() == before + 2);
        pipc::message_queue moved(std::move(q));
        BOOST_TEST(open_descriptors() == before + 2);
        BOOST_TEST((moved.strategy().type() == wait_strategy::kind::spin));
        moved.close();
        BOOST_TEST(open_descriptors() == before);
    }
    BOOST_TEST(open_descriptors() == before);
}

// keep_poll_descriptor(true): the O_NONBLOCK descriptor serves every try whatever the strategy
// (a plain call, no timeout), the blocking calls stay on the main descriptor, moves and reopens
// keep it, and false gives back exactly the default queue.
BOOST_AUTO_TEST_CASE(kept_poll_descriptor_serves_the_tries_whatever_the_strategy) {
    named n(kind::message_queue);
    const int before = open_descriptors();
    {
        counting_scope c;
        pipc::message_queue q(n, mq_opts());
        BOOST_TEST(!q.keeps_poll_descriptor());
        BOOST_TEST(open_descriptors() == before + 1);
        q.keep_poll_descriptor(true);
        BOOST_TEST(q.keeps_poll_descriptor());
        BOOST_TEST(open_descriptors() == before + 2);
        BOOST_TEST(c->mq_open == 2);
        c->main_mqd = q.native_handle();
        std::byte buf[16];
        BOOST_TEST(!q.try_receive(buf)); // empty: EAGAIN from the poll descriptor
        BOOST_TEST(q.try_send(std::string_view("a")));
        BOOST_TEST(c->foreign_descriptor_calls == 2);
        BOOST_TEST(c->sleeping_receive == 0);
        BOOST_TEST(q.receive(buf).size == 1); // the default strategy: the blocking call as before
        BOOST_TEST(c->sleeping_receive == 1);
        BOOST_TEST(c->foreign_descriptor_calls == 2);
        pipc::message_queue moved(std::move(q));
        BOOST_TEST(moved.keeps_poll_descriptor());
        BOOST_TEST(open_descriptors() == before + 2);
        moved.set_wait_strategy(wait_strategy::block()); // the strategy alone does not close it
        BOOST_TEST(open_descriptors() == before + 2);
        moved.keep_poll_descriptor(false);
        BOOST_TEST(open_descriptors() == before + 1);
        BOOST_TEST(!moved.try_receive(buf));
        BOOST_TEST(c->foreign_descriptor_calls == 2); // back on the main descriptor
        moved.keep_poll_descriptor(true);
        moved.close();
        BOOST_TEST(open_descriptors() == before);
        moved.open(n.str(), pipc::message_queue::options{}); // a reopen keeps it
        BOOST_TEST(open_descriptors() == before + 2);
    }
    BOOST_TEST(open_descriptors() == before);
}
