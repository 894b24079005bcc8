// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE pipc semaphore
#include <boost/test/unit_test.hpp>

#include <pipc/limits.hpp>
#include <pipc/semaphore.hpp>

#include <pipc_test/fault.hpp>
#include <pipc_test/support.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using pipc::errc;
using pipc::open_mode;
using pipc::semaphore;
using pipc_test::named;

namespace {
constexpr auto kind = pipc::object_kind::semaphore;
semaphore::options create(unsigned value = 0) {
    return {.open = open_mode::create_exclusive, .initial_value = value};
}
::mode_t file_mode(const std::string& name) {
    struct ::stat st {};
    BOOST_REQUIRE(::stat(("/dev/shm/sem." + name.substr(1)).c_str(), &st) == 0);
    return st.st_mode & 07777;
}
} // namespace

BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(create_exclusive_then_open_existing) {
    named name(kind);
    semaphore a(name, create(3));
    BOOST_TEST(a.is_open());
    BOOST_TEST(a.created());
    BOOST_TEST(a.name() == name.str());
    semaphore b(name);
    BOOST_TEST(!b.created());
    BOOST_TEST(b.value() == 3);
    b.release();
    BOOST_TEST(a.value() == 4);
}

BOOST_AUTO_TEST_CASE(open_or_create_reports_which_happened) {
    named name(kind);
    semaphore a(name, {.open = open_mode::open_or_create, .initial_value = 2});
    BOOST_TEST(a.created());
    semaphore b(name, {.open = open_mode::open_or_create, .initial_value = 9});
    BOOST_TEST(!b.created());
    BOOST_TEST(b.value() == 2); // an existing semaphore keeps its value
}

BOOST_AUTO_TEST_CASE(missing_and_existing_are_existential_errors) {
    named name(kind);
    pipc::error_code ec;
    semaphore s;
    s.open(name, {}, ec);
    BOOST_TEST((ec == boost::system::errc::no_such_file_or_directory));
    BOOST_TEST((ec == pipc::condition::existential));
    BOOST_TEST(!s.is_open());
    BOOST_CHECK_THROW(semaphore(name.str()), pipc::existential_error);
    semaphore first(name, create());
    s.open(name, create(), ec);
    BOOST_TEST((ec == boost::system::errc::file_exists));
    BOOST_CHECK_THROW(semaphore(name.str(), create()), pipc::existential_error);
}

BOOST_AUTO_TEST_CASE(mode_is_exact_whatever_the_umask) {
    named name(kind);
    const ::mode_t old = ::umask(077);
    semaphore s(name, {.open = open_mode::create_exclusive, .permissions = 0664});
    ::umask(old);
    BOOST_TEST(file_mode(name.str()) == 0664U);
    BOOST_TEST(s.permissions() == 0664U);
}

BOOST_AUTO_TEST_CASE(unique_name_creates_a_fresh_semaphore) {
    semaphore s(pipc::unique_name, {.initial_value = 5});
    BOOST_TEST(s.created());
    BOOST_TEST(pipc_test::exists(kind, s.name()));
    BOOST_TEST(s.value() == 5);
    s.unlink();
    BOOST_TEST(!pipc_test::exists(kind, s.name()));
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_without_side_effects) {
    named name(kind);
    struct row {
        const char* what;
        std::string name;
        semaphore::options opts;
        errc expected;
    };
    const row rows[] = {
        {"embedded slash", "/a/b", create(), errc::invalid_name},
        {"no slash", "x", create(), errc::invalid_name},
        {"too long", "/" + std::string(252, 'n'), create(), errc::name_too_long},
        {"permissions",
         name.str(),
         {.open = open_mode::create_exclusive, .permissions = 010000},
         errc::invalid_permissions},
        {"initial value",
         name.str(),
         {.open = open_mode::create_exclusive,
          .initial_value = static_cast<unsigned>(pipc::semaphore_value_max()) + 1U},
         errc::invalid_initial_value},
        {"open mode", name.str(), {.open = static_cast<open_mode>(42)}, errc::invalid_open_mode},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            semaphore s;
            pipc::error_code ec;
            s.open(r.name, r.opts, ec);
            BOOST_TEST((ec == make_error_code(r.expected)));
            BOOST_TEST(!s.is_open());
            BOOST_TEST(!pipc_test::exists(kind, name.str()));
            BOOST_CHECK_THROW(semaphore(r.name, r.opts), pipc::error);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_failed_reopen_keeps_the_old_semaphore) {
    named name(kind);
    semaphore s(name, create(1));
    pipc::error_code ec;
    s.open("/a/b", {}, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_name)));
    BOOST_TEST(s.is_open());
    BOOST_TEST(s.value() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(waiting)

BOOST_AUTO_TEST_CASE(acquire_try_acquire_release_value) {
    named name(kind);
    semaphore s(name, create(1));
    BOOST_TEST(s.try_acquire());
    BOOST_TEST(s.value() == 0);
    BOOST_TEST(!s.try_acquire());
    pipc::error_code ec;
    BOOST_TEST(!s.try_acquire(ec));
    BOOST_TEST(!ec); // "not available" is an answer, not an error
    s.release(3);
    BOOST_TEST(s.value() == 3);
    s.acquire();
    s.acquire(ec);
    BOOST_TEST(!ec);
    BOOST_TEST(s.value() == 1);
    s.release(0, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(s.value() == 1);
}

BOOST_AUTO_TEST_CASE(timed_waits_time_out_no_earlier_than_asked) {
    named name(kind);
    semaphore s(name, create(0));
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!s.try_acquire_for(50ms));
    auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST((waited >= 50ms));
    BOOST_TEST((waited < 10s));

    start = std::chrono::steady_clock::now();
    BOOST_TEST(!s.try_acquire_until(std::chrono::steady_clock::now() + 30ms));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 30ms));

    start = std::chrono::steady_clock::now();
    BOOST_TEST(!s.try_acquire_until(std::chrono::system_clock::now() + 30ms));
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 25ms)); // realtime vs steady rounding

    BOOST_TEST(!s.try_acquire_for(std::chrono::duration<double>(0.02)));
    BOOST_TEST(!s.try_acquire_for(-5s)); // negative: one try
    BOOST_TEST(!s.try_acquire_for(0ns)); // zero: one try
    s.release();
    BOOST_TEST(s.try_acquire_for(-1s)); // a try still takes a free unit
    s.release();
    BOOST_TEST(s.try_acquire_for(std::chrono::hours::max())); // huge: no overflow into the past
}

BOOST_AUTO_TEST_CASE(extreme_deadlines_saturate_instead_of_overflowing) {
    named name(kind);
    semaphore s(name, create(1));
    pipc_test::fault_scope faults;
    static int untimed_waits = 0;
    untimed_waits = 0;
    faults.table().sem_wait = [](::sem_t* sem) {
        ++untimed_waits;
        return pipc::detail::real_sys().sem_wait(sem);
    };
    // seconds::max() is beyond nanoseconds: it must mean "forever", not wrap into the past.
    using far_seconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;
    BOOST_TEST(s.try_acquire_until(far_seconds::max()));
    BOOST_TEST(untimed_waits == 1);
    s.release();
    BOOST_TEST(s.try_acquire_until(
        std::chrono::time_point<std::chrono::steady_clock, std::chrono::hours>::max()));
    BOOST_TEST(untimed_waits == 2);
    // The far past is a single try, whichever clock: it takes a free unit and never hangs.
    s.release();
    BOOST_TEST(s.try_acquire_until(std::chrono::steady_clock::time_point::min()));
    BOOST_TEST(!s.try_acquire_until(std::chrono::system_clock::time_point::min()));
    pipc::error_code ec;
    using double_tp =
        std::chrono::time_point<std::chrono::system_clock, std::chrono::duration<double>>;
    BOOST_TEST(!s.try_acquire_until(double_tp(std::chrono::duration<double>(std::nan(""))), ec));
    BOOST_TEST((ec == make_error_code(errc::invalid_timeout)));
}

BOOST_AUTO_TEST_CASE(nan_timeout_is_rejected) {
    named name(kind);
    semaphore s(name, create(1));
    pipc::error_code ec;
    BOOST_TEST(!s.try_acquire_for(std::chrono::duration<double>(std::nan("")), ec));
    BOOST_TEST((ec == make_error_code(errc::invalid_timeout)));
    BOOST_TEST(s.value() == 1); // nothing taken
}

BOOST_AUTO_TEST_CASE(a_post_in_another_process_wakes_a_blocked_acquire) {
    named name(kind);
    semaphore s(name, create(0));
    pipc_test::handshake ready;
    pipc_test::child_process child([&] {
        semaphore mine(name.str());
        ready.signal();
        return mine.try_acquire_for(20s); // blocked until the parent posts
    });
    ready.wait();
    s.release();
    BOOST_TEST(child.succeeded());
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(waiters_in_threads_all_get_a_unit) {
    named name(kind);
    semaphore s(name, create(0));
    std::atomic<int> got{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            if (s.try_acquire_for(20s)) ++got;
        });
    s.release(4);
    for (auto& t : threads) t.join();
    BOOST_TEST(got.load() == 4);
    BOOST_TEST(s.value() == 0);
}

BOOST_AUTO_TEST_CASE(release_past_the_maximum_fails_and_changes_nothing) {
    named name(kind);
    const auto max = static_cast<unsigned>(pipc::semaphore_value_max());
    semaphore s(name, create(max - 1));
    pipc::error_code ec;
    s.release(2, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_release_count)));
    BOOST_TEST(s.value() == static_cast<int>(max - 1));
    s.release(1);
    s.release(1, ec); // a single post at the maximum: the kernel's EOVERFLOW
    BOOST_TEST((ec == boost::system::errc::value_too_large));
    BOOST_TEST(s.value() == static_cast<int>(max));
    s.release(-1, ec);
    BOOST_TEST((ec == make_error_code(errc::invalid_release_count)));
}

BOOST_AUTO_TEST_CASE(standard_lock_types_hold_a_unit_for_a_scope) {
    named name(kind);
    semaphore s(name, create(1));
    {
        const std::lock_guard guard(s);
        BOOST_TEST(s.value() == 0);
    }
    BOOST_TEST(s.value() == 1);
    {
        std::unique_lock first(s, std::try_to_lock);
        BOOST_TEST(first.owns_lock());
        std::unique_lock second(s, 10ms);
        BOOST_TEST(!second.owns_lock());
    }
    BOOST_TEST(s.value() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifetime)

BOOST_AUTO_TEST_CASE(after_close_everything_but_unlink_says_closed) {
    named name(kind);
    semaphore s(name, create(1));
    s.close();
    s.close(); // twice is fine
    BOOST_TEST(!s.is_open());
    pipc::error_code ec;
    s.acquire(ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    BOOST_TEST((ec == pipc::condition::existential));
    s.try_acquire(ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    s.release(1, ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    s.value(ec);
    BOOST_TEST((ec == make_error_code(errc::closed)));
    BOOST_CHECK_THROW(s.acquire(), pipc::existential_error);
    // posix_ipc refuses this (its bug); the name is still known, so unlink works.
    s.unlink();
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
    s.unlink(ec);
    BOOST_TEST((ec == boost::system::errc::no_such_file_or_directory));
}

BOOST_AUTO_TEST_CASE(destructor_closes_but_never_unlinks) {
    named name(kind);
    { semaphore s(name, create(7)); }
    BOOST_TEST(pipc_test::exists(kind, name.str()));
    semaphore again(name);
    BOOST_TEST(again.value() == 7);
}

BOOST_AUTO_TEST_CASE(moves_transfer_the_handle) {
    named name(kind);
    semaphore a(name, create(2));
    semaphore b(std::move(a));
    BOOST_TEST(!a.is_open()); // NOLINT(bugprone-use-after-move): the moved-from state is specified
    BOOST_TEST(b.value() == 2);
    semaphore c;
    c = std::move(b);
    BOOST_TEST(c.value() == 2);
    pipc::error_code ec;
    b.value(ec); // NOLINT(bugprone-use-after-move)
    BOOST_TEST((ec == make_error_code(errc::closed)));
}

BOOST_AUTO_TEST_CASE(unlinked_semaphore_keeps_working_while_open) {
    named name(kind);
    semaphore s(name, create(0));
    pipc::unlink_semaphore(name.str());
    s.release();
    BOOST_TEST(s.try_acquire());
}

BOOST_AUTO_TEST_CASE(permission_denied_for_another_user) {
    named name(kind);
    semaphore s(name, {.open = open_mode::create_exclusive, .permissions = 0600});
    pipc_test::child_process child([&] {
        if (!pipc_test::drop_to_nobody()) return false;
        pipc::error_code ec;
        semaphore other;
        other.open(name.str(), {}, ec);
        const bool denied = ec == pipc::condition::permissions;
        semaphore::unlink(name.str(), ec);
        return denied && ec == pipc::condition::permissions;
    });
    BOOST_TEST(child.succeeded());
    BOOST_TEST(pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(signals)

BOOST_AUTO_TEST_CASE(eintr_is_retried_or_reported_as_asked) {
    named name(kind);
    semaphore s(name, create(1));
    pipc_test::fault_scope faults;
    static int interruptions = 0;
    interruptions = 2;
    faults.table().sem_wait = [](::sem_t* sem) {
        if (interruptions-- > 0) {
            errno = EINTR;
            return -1;
        }
        return pipc::detail::real_sys().sem_wait(sem);
    };
    s.acquire(); // retried through two interruptions
    BOOST_TEST(interruptions == -1);
    s.release();
    interruptions = 1;
    s.set_signal_policy(pipc::signal_policy::report);
    pipc::error_code ec;
    s.acquire(ec);
    BOOST_TEST((ec == pipc::condition::signal));
    BOOST_TEST(s.value() == 1); // nothing was taken
    BOOST_CHECK_THROW(
        {
            interruptions = 1;
            s.acquire();
        },
        pipc::signal_error);
}

BOOST_AUTO_TEST_CASE(timed_wait_retries_with_the_same_deadline) {
    named name(kind);
    semaphore s(name, create(0));
    pipc_test::fault_scope faults;
    static int calls = 0;
    calls = 0;
    faults.table().sem_clockwait = [](::sem_t* sem, ::clockid_t clock, const ::timespec* abs) {
        if (calls++ == 0) {
            errno = EINTR;
            return -1;
        }
        return pipc::detail::real_sys().sem_clockwait(sem, clock, abs);
    };
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!s.try_acquire_for(40ms));
    BOOST_TEST(calls == 2);
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 40ms));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(a_failed_chmod_after_create_leaves_nothing_behind) {
    named name(kind);
    pipc_test::fault_scope faults;
    faults.table().fchmod = [](int, ::mode_t) {
        errno = EPERM;
        return -1;
    };
    pipc::error_code ec;
    semaphore s;
    s.open(name, create(), ec);
    BOOST_TEST((ec == boost::system::errc::operation_not_permitted));
    BOOST_TEST(!s.is_open());
    BOOST_TEST(!pipc_test::exists(kind, name.str()));
}

// Another process creates the name while this open_or_create is building its own semaphore: the
// call opens theirs, keeps it, and leaves nothing of its own half-made one.
BOOST_AUTO_TEST_CASE(open_or_create_losing_the_name_opens_the_winner_and_removes_nothing) {
    named name(kind);
    static const std::string* target = nullptr;
    target = &name.str();
    pipc_test::fault_scope faults;
    faults.table().linkat = [](int od, const char* o, int nd, const char* n, int flags) {
        ::sem_t* theirs = ::sem_open(target->c_str(), O_CREAT | O_EXCL, 0600, 42);
        if (theirs != SEM_FAILED) ::sem_close(theirs);
        return pipc::detail::real_sys().linkat(od, o, nd, n, flags);
    };
    semaphore s(name, {.open = open_mode::open_or_create, .initial_value = 1});
    BOOST_TEST(!s.created());
    BOOST_TEST(s.value() == 42);
    BOOST_TEST(pipc_test::exists(kind, name.str()));
}

BOOST_AUTO_TEST_CASE(generated_names_retry_on_collision_then_give_up) {
    pipc_test::fault_scope faults;
    static int collisions = 0;
    collisions = 3;
    faults.table().linkat = [](int od, const char* o, int nd, const char* n, int flags) {
        if (collisions-- > 0) {
            errno = EEXIST;
            return -1;
        }
        return pipc::detail::real_sys().linkat(od, o, nd, n, flags);
    };
    semaphore s(pipc::unique_name);
    BOOST_TEST(s.is_open());
    s.unlink();
    collisions = 1000;
    pipc::error_code ec;
    semaphore t;
    t.open(pipc::unique_name, {}, ec);
    BOOST_TEST((ec == make_error_code(errc::name_generation_failed)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(damaged_files)

namespace {
// A semaphore file as a crash between create and write, or another writer, leaves it.
void write_file(const std::string& name, std::size_t bytes) {
    const std::string path = "/dev/shm/sem." + name.substr(1);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    BOOST_REQUIRE(fd >= 0);
    const std::vector<char> junk(bytes, 'x');
    BOOST_REQUIRE(::write(fd, junk.data(), junk.size()) == static_cast<::ssize_t>(bytes));
    ::close(fd);
}
} // namespace

BOOST_AUTO_TEST_CASE(a_short_semaphore_file_is_refused_not_a_crash) {
    for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, sizeof(::sem_t) - 1}) {
        BOOST_TEST_CONTEXT("file of " << bytes << " bytes") {
            named name(kind);
            write_file(name.str(), bytes);
            BOOST_TEST(!pipc::semaphore_intact(name));
            for (const auto mode : {open_mode::open_existing, open_mode::open_or_create}) {
                semaphore s;
                pipc::error_code ec;
                s.open(name, {.open = mode}, ec);
                BOOST_TEST((ec == make_error_code(errc::damaged_semaphore)));
                BOOST_TEST((ec == pipc::condition::existential));
                BOOST_TEST(!s.is_open());
            }
            BOOST_CHECK_THROW(semaphore(name.str()), pipc::existential_error);
            // Nothing was repaired or removed behind the caller's back.
            BOOST_TEST(pipc_test::exists(kind, name.str()));
        }
    }
}

BOOST_AUTO_TEST_CASE(value_on_a_short_file_never_raises_sigbus) {
    named name(kind);
    write_file(name.str(), 0);
    // In a child, so that a regression is a failed check rather than a dead test run.
    pipc_test::child_process child([&] {
        try {
            semaphore s(name.str());
            return s.value() == -12345; // unreachable unless open wrongly succeeded
        } catch (const pipc::existential_error&) {
            return true;
        }
    });
    BOOST_TEST(child.succeeded());
}

BOOST_AUTO_TEST_CASE(semaphore_intact_tells_whole_from_damaged_and_missing) {
    named name(kind);
    semaphore s(name, create(4));
    BOOST_TEST(pipc::semaphore_intact(name));
    s.unlink();
    pipc::error_code ec;
    BOOST_TEST(!pipc::semaphore_intact(name, ec));
    BOOST_TEST((ec == boost::system::errc::no_such_file_or_directory));
    BOOST_TEST(!pipc::semaphore_intact("bad", ec));
    BOOST_TEST((ec == make_error_code(errc::invalid_name)));
}

BOOST_AUTO_TEST_CASE(works_with_semaphores_made_by_sem_open_both_ways) {
    named a(kind);
    ::sem_t* raw = ::sem_open(a.c_str(), O_CREAT | O_EXCL, 0600, 5);
    BOOST_REQUIRE(raw != SEM_FAILED);
    semaphore mine(a);
    BOOST_TEST(mine.value() == 5);
    mine.release();
    int v = 0;
    ::sem_getvalue(raw, &v);
    BOOST_TEST(v == 6);
    ::sem_close(raw);
    named b(kind);
    semaphore created(b, create(2));
    raw = ::sem_open(b.c_str(), 0);
    BOOST_REQUIRE(raw != SEM_FAILED);
    BOOST_TEST(::sem_trywait(raw) == 0);
    BOOST_TEST(created.value() == 1);
    ::sem_close(raw);
}

BOOST_AUTO_TEST_SUITE_END()
