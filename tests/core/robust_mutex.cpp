// SPDX-License-Identifier: BSL-1.0
// Tests of pipc/robust_mutex.hpp: naming, open modes, permissions, owner death and recovery,
// error cases that would be undefined behaviour on a plain mutex, creation races.
#define BOOST_TEST_MODULE robust_mutex
#include <boost/test/unit_test.hpp>

#include <pipc/inspect.hpp>
#include <pipc/robust_mutex.hpp>
#include <pipc/shared_memory.hpp>

#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pipc::errc;
using pipc::error_code;
using pipc::lock_result;
using pipc::open_mode;
using pipc::robust_mutex;

namespace {

using pipc_test::mutex_name;

bool path_exists(const std::string& path) {
    struct ::stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

robust_mutex::options create_opts(::mode_t perms = 0600) {
    robust_mutex::options o;
    o.open = open_mode::create_exclusive;
    o.permissions = perms;
    return o;
}

/// Anonymous shared memory inherited across fork, for results and protected records.
template <class T>
class shared_anon {
public:
    shared_anon() {
        void* p =
            ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        ptr_ = new (p) T{};
    }
    ~shared_anon() { ::munmap(ptr_, sizeof(T)); }
    shared_anon(const shared_anon&) = delete;
    shared_anon& operator=(const shared_anon&) = delete;
    T* operator->() const noexcept { return ptr_; }
    T& operator*() const noexcept { return *ptr_; }

private:
    T* ptr_ = nullptr;
};

/// ThreadSanitizer reports the deliberate misuse some tests make (a second lock by the owner, an
/// unlock by a non-owner) as errors of the test itself; those checks are skipped under it.
#if defined(__SANITIZE_THREAD__)
constexpr bool under_tsan = true;
#else
constexpr bool under_tsan = false;
#endif

unsigned stress_divisor() {
    if (const char* d = std::getenv("PIPC_STRESS_DIVISOR")) {
        const long v = std::strtol(d, nullptr, 10);
        if (v > 1) return static_cast<unsigned>(v);
    }
    return 1;
}

/// A child that takes the lock, says so, and then holds it until it is killed.
pid_t fork_holder(const std::string& name, const pipc_test::handshake& locked) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(30);
        try {
            robust_mutex m(name);
            m.lock();
            locked.signal();
            for (;;) ::pause();
        } catch (...) {
        }
        ::_exit(2);
    }
    return pid;
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
}

/// Every blocking call below is bounded: a mutex that never comes back fails the test case with
/// SIGALRM (Boost.Test reports the signal) instead of hanging it. Forked children clear it.
struct watchdog {
    watchdog() { ::alarm(60); }
    ~watchdog() { ::alarm(0); }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(naming_and_opening, watchdog)

BOOST_AUTO_TEST_CASE(create_lock_unlock_and_object_name) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    BOOST_TEST(m.is_open());
    BOOST_TEST(m.created());
    BOOST_TEST(m.name() == n.str());
    BOOST_TEST(path_exists(n.path()));
    BOOST_TEST(!pipc_test::exists(pipc::object_kind::shared_memory, n.str()));
    BOOST_TEST((m.lock() == lock_result::acquired));
    BOOST_TEST(!m.inconsistent());
    m.unlock();
    error_code ec;
    BOOST_TEST(robust_mutex::object_name(n, ec) == "/pipc-robust-mutex." + n.str().substr(1));
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(open_modes) {
    mutex_name n;
    error_code ec;
    robust_mutex m;
    m.open(n, {}, ec);
    BOOST_TEST((ec == boost::system::errc::no_such_file_or_directory));
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_TEST(!m.is_open());
    BOOST_CHECK_THROW(robust_mutex(n.str()), pipc::existential_error);

    robust_mutex::options ooc;
    ooc.open = open_mode::open_or_create;
    robust_mutex a(n, ooc);
    BOOST_TEST(a.created());
    robust_mutex b(n, ooc);
    BOOST_TEST(!b.created());
    robust_mutex c(n);
    BOOST_TEST(!c.created());

    m.open(n, create_opts(), ec);
    BOOST_TEST((ec == boost::system::errc::file_exists));
    BOOST_TEST(!m.is_open());

    // Every handle sees the same mutex.
    BOOST_TEST((a.lock() == lock_result::acquired));
    bool other_thread_got_it = true;
    std::thread([&] { other_thread_got_it = b.try_lock(); }).join();
    BOOST_TEST(!other_thread_got_it);
    a.unlock();
    BOOST_TEST(c.try_lock());
    c.unlock();
}

BOOST_AUTO_TEST_CASE(generated_name) {
    robust_mutex m(pipc::unique_name);
    BOOST_TEST(m.created());
    BOOST_TEST(m.name().rfind("/pipc-", 0) == 0);
    BOOST_TEST(m.try_lock());
    m.unlock();
    m.unlink();
    BOOST_TEST(!path_exists("/dev/shm/pipc-robust-mutex." + m.name().substr(1)));
}

BOOST_AUTO_TEST_CASE(bad_input_names_the_field_and_creates_nothing) {
    error_code ec;
    robust_mutex m;
    m.open("no-slash", create_opts(), ec);
    BOOST_TEST((ec == errc::invalid_name));
    m.open("/a/b", create_opts(), ec);
    BOOST_TEST((ec == errc::invalid_name));

    // Fits a shared-memory name but not once the prefix is added.
    const std::string long_name = "/pipc-test-" + std::string(238 - 10, 'x');
    BOOST_TEST(long_name.size() - 1 == 238U);
    m.open(long_name, create_opts(), ec);
    BOOST_TEST((ec == errc::name_too_long));
    BOOST_TEST(!path_exists("/dev/shm/pipc-robust-mutex." + long_name.substr(1)));
    const std::string longest = long_name.substr(0, long_name.size() - 1);
    m.open(longest, create_opts(), ec);
    BOOST_TEST(!ec);
    m.unlink(ec);
    BOOST_TEST(!ec);
    m.close();

    mutex_name n;
    m.open(n, create_opts(010000), ec);
    BOOST_TEST((ec == errc::invalid_permissions));
    BOOST_TEST(!path_exists(n.path()));
    robust_mutex::options bad_mode;
    bad_mode.open = static_cast<open_mode>(42);
    m.open(n, bad_mode, ec);
    BOOST_TEST((ec == errc::invalid_open_mode));
    BOOST_TEST(!path_exists(n.path()));
    BOOST_TEST(!m.is_open());
}

BOOST_AUTO_TEST_CASE(foreign_object_is_rejected) {
    mutex_name n;
    // A segment that happens to carry the mutex's object name: wrong size, then right size but
    // no header.
    pipc::shared_memory::options so;
    so.open = open_mode::create_exclusive;
    so.size = 16;
    const std::string object = "/pipc-robust-mutex." + n.str().substr(1);
    {
        pipc::shared_memory seg(object, so);
        error_code ec;
        robust_mutex m;
        m.open(n, {}, ec);
        BOOST_TEST((ec == errc::not_a_robust_mutex));
        robust_mutex::options ooc;
        ooc.open = open_mode::open_or_create;
        m.open(n, ooc, ec);
        BOOST_TEST((ec == errc::not_a_robust_mutex));
        BOOST_TEST(!m.is_open());
    }
    // Right size, zero header.
    struct ::stat st {};
    {
        robust_mutex real(pipc::unique_name);
        BOOST_TEST(::stat(("/dev/shm/pipc-robust-mutex." + real.name().substr(1)).c_str(), &st) ==
                   0);
        real.unlink();
    }
    pipc::shared_memory::unlink(object);
    so.size = static_cast<std::uint64_t>(st.st_size);
    pipc::shared_memory seg(object, so);
    error_code ec;
    robust_mutex m;
    m.open(n, {}, ec);
    BOOST_TEST((ec == errc::not_a_robust_mutex));
    BOOST_TEST(!m.is_open());
}

BOOST_AUTO_TEST_CASE(permissions_are_exact_whatever_the_umask) {
    mutex_name n;
    const ::mode_t old = ::umask(077);
    robust_mutex m(n, create_opts(0666));
    ::umask(old);
    struct ::stat st {};
    BOOST_TEST(::stat(n.path().c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0666U);
    BOOST_TEST(m.permissions() == 0666U);
}

BOOST_AUTO_TEST_CASE(permission_denied_as_nobody) {
    if (::geteuid() != 0) return; // only root can drop to nobody
    mutex_name closed_name("closed");
    mutex_name open_name("open");
    robust_mutex closed_m(closed_name, create_opts(0600));
    robust_mutex open_m(open_name, create_opts(0666));
    pipc_test::child_process child([&] {
        if (!pipc_test::drop_to_nobody()) return false;
        error_code ec;
        robust_mutex m;
        m.open(closed_name, {}, ec);
        if (!(ec == pipc::condition::permissions) || m.is_open()) return false;
        try {
            robust_mutex thrown(closed_name.str());
            return false;
        } catch (const pipc::permissions_error&) {
        }
        m.open(open_name, {}, ec);
        if (ec) return false;
        if (m.lock() != lock_result::acquired) return false;
        m.unlock();
        return true;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(open_m.try_lock()); // the child's unlock really released it
    open_m.unlock();
}

BOOST_AUTO_TEST_CASE(closed_handle) {
    robust_mutex m;
    error_code ec;
    m.lock(ec);
    BOOST_TEST((ec == errc::closed));
    BOOST_TEST(!m.try_lock(ec));
    BOOST_TEST((ec == errc::closed));
    m.unlock(ec);
    BOOST_TEST((ec == errc::closed));
    BOOST_CHECK_THROW(m.lock(), pipc::existential_error);
    BOOST_TEST(m.native_handle() == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(locking, watchdog)

BOOST_AUTO_TEST_CASE(recursive_lock_and_foreign_unlock_are_errors) {
    if (under_tsan) return;
    mutex_name n;
    robust_mutex m(n, create_opts());
    error_code ec;
    m.unlock(ec); // not held at all
    BOOST_TEST((ec == errc::not_owner));
    BOOST_TEST((ec == pipc::condition::permissions));
    m.lock();
    m.lock(ec);
    BOOST_TEST((ec == errc::already_owner));
    BOOST_CHECK_THROW(m.lock(), pipc::error);
    BOOST_TEST(!m.try_lock(ec));
    BOOST_TEST((ec == errc::already_owner));
    BOOST_TEST(!m.try_lock_for(10ms, ec));
    BOOST_TEST((ec == errc::already_owner));

    // Another thread cannot unlock it.
    error_code other_ec;
    std::thread([&] { m.unlock(other_ec); }).join();
    BOOST_TEST((other_ec == errc::not_owner));
    // Another process cannot either.
    pipc_test::child_process child([&] {
        robust_mutex c(n.str());
        error_code cec;
        c.unlock(cec);
        return cec == errc::not_owner && !c.try_lock();
    });
    BOOST_TEST(child.succeeded());
    m.consistent(ec); // not inconsistent: refused
    BOOST_TEST((ec == errc::not_owner));
    m.unlock();
    BOOST_TEST(m.try_lock());
    m.unlock();
}

BOOST_AUTO_TEST_CASE(timed_lock) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    pipc_test::handshake locked;
    const pid_t holder = fork_holder(n.str(), locked);
    locked.wait();
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(!m.try_lock_for(50ms));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 50ms));
    BOOST_TEST(!m.try_lock_until(std::chrono::steady_clock::now() + 20ms));
    BOOST_TEST(!m.try_lock_until(std::chrono::system_clock::now() - 1s)); // expired: one try
    BOOST_TEST(!m.try_lock_for(-1s));
    BOOST_TEST(!m.try_lock());
    error_code ec;
    BOOST_TEST(!m.try_lock_for(std::chrono::duration<double>(std::nan("")), ec));
    BOOST_TEST((ec == errc::invalid_timeout));
    kill_and_reap(holder);
    BOOST_TEST(m.try_lock_for(10s, ec));
    BOOST_TEST((ec == errc::owner_dead));
    m.consistent();
    m.unlock();
    BOOST_TEST(m.try_lock_for(std::chrono::duration<double>(INFINITY)));
    m.unlock();
}

BOOST_AUTO_TEST_CASE(a_failed_try_leaves_no_waiter_mark) {
    // A try (or a wait whose deadline has passed) on a mutex another process holds must not
    // mark the lock word "waiters": that mark sends the holder's unlock into the kernel to wake
    // a thread that is not there.
    mutex_name n;
    robust_mutex m(n, create_opts());
    pipc_test::handshake locked;
    const pid_t holder = fork_holder(n.str(), locked);
    locked.wait();
    BOOST_TEST(!m.try_lock());
    BOOST_TEST(!m.try_lock_for(0s));
    BOOST_TEST(!m.try_lock_until(std::chrono::steady_clock::now() - 1s));
    const auto state = pipc::inspect_robust_mutex(n.str());
    BOOST_TEST((state.status == pipc::robust_mutex_status::held));
    BOOST_TEST(!state.waiters);
    kill_and_reap(holder);
    error_code ec;
    BOOST_TEST(m.try_lock(ec)); // the death is still reported to the next locker
    BOOST_TEST((ec == errc::owner_dead));
    m.consistent();
    m.unlock();
}

BOOST_AUTO_TEST_CASE(lockable_with_standard_guards) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    {
        std::lock_guard g(m);
        BOOST_TEST(!m.inconsistent());
    }
    {
        std::unique_lock l(m, 100ms);
        BOOST_TEST(l.owns_lock());
    }
    BOOST_TEST(m.try_lock());
    m.unlock();
}

BOOST_AUTO_TEST_CASE(threads_of_one_process_exclude_each_other) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    long counter = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                std::lock_guard g(m);
                ++counter;
            }
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(counter == 8000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(owner_death, watchdog)

BOOST_AUTO_TEST_CASE(next_locker_learns_and_recovers) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    pipc_test::handshake locked;
    const pid_t holder = fork_holder(n.str(), locked);
    locked.wait();
    kill_and_reap(holder);
    BOOST_TEST((m.lock() == lock_result::owner_dead));
    BOOST_TEST(m.inconsistent());
    m.consistent();
    BOOST_TEST(!m.inconsistent());
    m.unlock();
    error_code ec;
    m.lock(ec);
    BOOST_TEST(!ec);
    m.unlock();
}

BOOST_AUTO_TEST_CASE(error_code_lock_reports_owner_dead_and_holds_the_lock) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    pipc_test::handshake locked;
    const pid_t holder = fork_holder(n.str(), locked);
    locked.wait();
    kill_and_reap(holder);
    error_code ec;
    m.lock(ec);
    BOOST_TEST((ec == errc::owner_dead));
    BOOST_TEST((ec == boost::system::errc::owner_dead));
    // Held: another process cannot take it.
    pipc_test::child_process child([&] { return !robust_mutex(n.str()).try_lock(); });
    BOOST_TEST(child.succeeded());
    m.consistent(ec);
    BOOST_TEST(!ec);
    m.unlock();
}

BOOST_AUTO_TEST_CASE(unlock_without_consistent_is_not_recoverable_everywhere) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    pipc_test::handshake locked;
    const pid_t holder = fork_holder(n.str(), locked);
    locked.wait();
    kill_and_reap(holder);
    BOOST_TEST(m.try_lock());
    BOOST_TEST(m.inconsistent());
    m.unlock();
    BOOST_TEST(!m.inconsistent());
    error_code ec;
    m.lock(ec);
    BOOST_TEST((ec == errc::not_recoverable));
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_CHECK_THROW(m.lock(), pipc::existential_error);
    // Repeated tries must not leave the lock word taken (glibc's trylock would).
    for (int i = 0; i < 3; ++i) BOOST_CHECK_THROW(m.try_lock(), pipc::existential_error);
    BOOST_CHECK_THROW(m.try_lock_for(10ms), pipc::existential_error);
    BOOST_CHECK_THROW(m.lock(), pipc::existential_error);
    pipc_test::child_process child([&] {
        robust_mutex other(n.str());
        error_code cec;
        other.lock(cec);
        return cec == errc::not_recoverable;
    });
    BOOST_TEST(child.succeeded());
    // Recreating under the same name gives a fresh mutex.
    m.unlink();
    robust_mutex fresh(n, create_opts());
    BOOST_TEST((fresh.lock() == lock_result::acquired));
    fresh.unlock();
}

BOOST_AUTO_TEST_CASE(closing_a_held_handle_still_reports_the_death) {
    mutex_name n;
    robust_mutex m(n, create_opts());
    // The holder closes (and destroys) its handle while holding the lock, then exits: the
    // kernel must still find the mutex on its robust list.
    pipc_test::child_process holder([&] {
        {
            robust_mutex h(n.str());
            if (h.lock() != lock_result::acquired) return false;
            h.close();
            BOOST_TEST_REQUIRE(!h.is_open());
        }
        return true;
    });
    BOOST_TEST(holder.succeeded());
    error_code ec;
    BOOST_TEST(m.try_lock_for(5s, ec));
    BOOST_TEST((ec == errc::owner_dead));
    m.consistent();
    m.unlock();
    m.close(); // not held: unmapped
    BOOST_TEST(!m.is_open());
}

// A forked holder updates a multi-field record under the lock and is killed with SIGKILL at a
// random point of its critical section. The next locker must always get owner_dead, repair the
// record from its undo copy, and find the invariant intact.
BOOST_AUTO_TEST_CASE(killed_mid_update_many_rounds) {
    struct record {
        volatile std::uint64_t a, b, sum; // invariant: b == 2a, sum == a + b
        volatile std::uint64_t saved_a, saved_b, saved_sum;
        volatile std::uint64_t dirty; // 1 while a, b, sum may disagree
        volatile std::uint64_t progress;
    };
    mutex_name n;
    robust_mutex m(n, create_opts());
    shared_anon<record> rec;
    std::mt19937 rng(12345);
    const unsigned max_rounds = 1000 / stress_divisor();
    const auto budget = std::chrono::steady_clock::now() + 20s;
    unsigned rounds = 0;
    unsigned repaired = 0;
    unsigned owner_dead = 0;
    for (; rounds < max_rounds && std::chrono::steady_clock::now() < budget; ++rounds) {
        pipc_test::handshake locked;
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::alarm(30);
            robust_mutex cm(n.str());
            cm.lock();
            locked.signal();
            record& r = *rec;
            for (;;) { // the critical section never ends: only SIGKILL does
                r.saved_a = r.a;
                r.saved_b = r.b;
                r.saved_sum = r.sum;
                std::atomic_signal_fence(std::memory_order_seq_cst);
                r.dirty = 1;
                std::atomic_signal_fence(std::memory_order_seq_cst);
                r.a = r.a + 1;
                r.b = r.b + 2;
                r.sum = r.a + r.b;
                std::atomic_signal_fence(std::memory_order_seq_cst);
                r.dirty = 0;
                r.progress = r.progress + 1;
            }
        }
        BOOST_REQUIRE(pid > 0);
        locked.wait();
        // A random delay before the kill spreads the kill points over the loop body.
        const auto spin_until =
            std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 200);
        while (std::chrono::steady_clock::now() < spin_until) {
        }
        kill_and_reap(pid);
        error_code ec;
        const bool got = m.try_lock_for(10s, ec); // bounded: a hang fails the test instead
        BOOST_REQUIRE(got);
        if (ec == errc::owner_dead) ++owner_dead;
        BOOST_REQUIRE_MESSAGE(ec == errc::owner_dead, "round " << rounds << ": " << ec.message());
        record& r = *rec;
        if (r.dirty != 0) {
            r.a = r.saved_a;
            r.b = r.saved_b;
            r.sum = r.saved_sum;
            r.dirty = 0;
            ++repaired;
        }
        BOOST_REQUIRE_MESSAGE(r.b == 2 * r.a && r.sum == r.a + r.b, "round " << rounds);
        m.consistent();
        m.unlock();
    }
    BOOST_TEST_MESSAGE(rounds << " rounds, " << owner_dead << " owner_dead, " << repaired
                              << " repaired mid-update, " << rec->progress << " updates");
    BOOST_TEST(owner_dead == rounds);
    BOOST_TEST(rounds >= std::min(100U, max_rounds));
    if (rounds >= 100) BOOST_TEST(repaired > 0U); // kills really landed mid-update
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(creation, watchdog)

BOOST_AUTO_TEST_CASE(racing_creators_share_one_mutex) {
    struct shared_state {
        std::atomic<int> created{0};
        long counter = 0;
    };
    constexpr int processes = 6;
    constexpr int increments = 2000;
    for (int round = 0; round < 10; ++round) {
        mutex_name n("race");
        shared_anon<shared_state> st;
        pipc_test::handshake go;
        std::vector<std::unique_ptr<pipc_test::child_process>> children;
        for (int p = 0; p < processes; ++p)
            children.push_back(std::make_unique<pipc_test::child_process>([&] {
                go.wait();
                robust_mutex::options o;
                o.open = open_mode::open_or_create;
                robust_mutex m(n, o);
                if (m.created()) st->created.fetch_add(1);
                for (int i = 0; i < increments; ++i) {
                    std::lock_guard g(m);
                    st->counter = st->counter + 1;
                }
                return true;
            }));
        for (int p = 0; p < processes; ++p) go.signal();
        for (auto& c : children) BOOST_TEST(c->succeeded());
        BOOST_TEST(st->created.load() == 1);
        BOOST_TEST(st->counter == long{processes} * increments);
    }
}

namespace {
int report_fd = -1;
// Stands in for link(): tells the parent the temporary object's path, then dies the way a
// crashing creator would, after initialising everything but before publishing it.
int die_before_link(const char* from, const char*) {
    const std::string s(from);
    (void)!::write(report_fd, s.data(), s.size());
    ::raise(SIGKILL);
    return -1;
}
} // namespace

BOOST_AUTO_TEST_CASE(creator_killed_mid_creation_leaves_nothing_usable_behind) {
    mutex_name n;
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(30);
        ::close(fds[0]);
        report_fd = fds[1];
        pipc_test::fault_scope faults;
        faults.table().link = die_before_link;
        robust_mutex m(n, create_opts());
        ::_exit(3); // not reached
    }
    ::close(fds[1]);
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST(WIFSIGNALED(status));
    char buf[512];
    const auto got = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    BOOST_REQUIRE(got > 0);
    const std::string leftover(buf, static_cast<std::size_t>(got));
    BOOST_TEST(leftover.find("/dev/shm/pipc-robust-mutex-tmp.") == 0);
    BOOST_TEST(path_exists(leftover));
    // The name was never published: openers get "does not exist", creators succeed.
    error_code ec;
    robust_mutex m;
    m.open(n, {}, ec);
    BOOST_TEST((ec == boost::system::errc::no_such_file_or_directory));
    BOOST_TEST(!path_exists(n.path()));
    robust_mutex::options ooc;
    ooc.open = open_mode::open_or_create;
    m.open(n, ooc, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(m.created());
    BOOST_TEST((m.lock() == lock_result::acquired));
    m.unlock();
    ::unlink(leftover.c_str());
}

std::string last_link_source;

BOOST_AUTO_TEST_CASE(failed_publication_cleans_up) {
    mutex_name n;
    pipc_test::fault_scope faults;
    faults.table().link = [](const char* from, const char*) {
        last_link_source = from;
        errno = ENOSPC;
        return -1;
    };
    error_code ec;
    robust_mutex m;
    m.open(n, create_opts(), ec);
    BOOST_TEST((ec == boost::system::errc::no_space_on_device));
    BOOST_TEST(!m.is_open());
    BOOST_TEST(!path_exists(n.path()));
    BOOST_TEST(!last_link_source.empty());
    BOOST_TEST(!path_exists(last_link_source)); // the temporary object is gone too
}

BOOST_AUTO_TEST_SUITE_END()
