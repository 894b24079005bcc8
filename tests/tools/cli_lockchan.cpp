// SPDX-License-Identifier: BSL-1.0
// `pipc lock ...`, `pipc channel ...`, and robust mutexes and channels in `ls` and `doctor`:
// output and exit codes, errors that name the field and change nothing, a robust mutex going
// free -> held by PID -> owner dead (SIGKILL) -> recovering -> not recoverable as `ls` sees it
// without ever changing it, and channels whose consumer or producer died holding slots.
#define BOOST_TEST_MODULE pipc_cli_lockchan
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <pipc/channel.hpp>
#include <pipc/detail/channel_async.hpp>
#include <pipc/robust_mutex.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <array>
#include <fstream>
#include <iterator>

using namespace pipc_cli_test;
using pipc::object_kind;
using pipc_test::child_process;
using pipc_test::handshake;

namespace {

/// A unique robust-mutex name, unlinked before and after.
struct lock_name {
    std::string name = pipc_test::unique_name("lock");
    lock_name() { remove(); }
    ~lock_name() { remove(); }
    lock_name(const lock_name&) = delete;
    lock_name& operator=(const lock_name&) = delete;
    void remove() const {
        pipc::error_code ignored;
        pipc::robust_mutex::unlink(name, ignored);
    }
    std::string path() const { return "/dev/shm/pipc-robust-mutex." + name.substr(1); }
};

bool file_exists(const std::string& path) {
    struct ::stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const boost::json::object* find(const boost::json::value& ls, const std::string& kind,
                                const std::string& name) {
    for (const auto& o : ls.at("objects").as_array())
        if (o.at("kind").as_string() == kind && o.at("name").as_string() == name)
            return &o.as_object();
    return nullptr;
}

/// The `ls --json` entry of a lock, failing the test when it is missing.
boost::json::object lock_entry(const std::string& name) {
    const auto r = run({"ls", "--kind", "lock", "--json"});
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    const auto doc = json(r.out);
    const auto* o = find(doc, "lock", name);
    BOOST_REQUIRE(o != nullptr);
    return *o;
}

std::string lock_state(const std::string& name) {
    const auto o = lock_entry(name);
    return o.at("state").is_null() ? "null" : std::string(o.at("state").as_string());
}

bool doctor_warns_about(const std::string& check, const std::string& name,
                        const std::string& what = "") {
    const auto r = run({"doctor", "--json"});
    const auto doc = json(r.out);
    for (const auto& c : doc.at("checks").as_array())
        if (c.at("check").as_string() == check && c.at("status").as_string() == "warn" &&
            std::string(c.at("message").as_string()).find(name) != std::string::npos &&
            std::string(c.at("message").as_string()).find(what) != std::string::npos)
            return r.exit_code == 6;
    return false;
}

bool root() {
    return ::geteuid() == 0;
}

// In the child before exec: a new PID namespace (with its own /proc) in which pipc is alone, so
// every process it sees is inspectable (as in cli_holders).
bool alone_in_a_pid_namespace() {
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) return false;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid > 0) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
    }
    return ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
}

run_options as_nobody() {
    run_options o;
    o.in_child = pipc_test::drop_to_nobody;
    return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(lock_states_as_ls_info_and_doctor_see_them) {
    lock_name n;
    pipc::robust_mutex::options create;
    create.open = pipc::open_mode::create_exclusive;
    pipc::robust_mutex m(n.name, create);

    BOOST_TEST(lock_state(n.name) == "free");
    auto info = run({"lock", "info", n.name});
    BOOST_TEST(info.exit_code == 0);
    BOOST_TEST(info.out.find("state:            free\n") != std::string::npos, info.out);
    BOOST_TEST(info.out.find("kind:             lock\n") != std::string::npos, info.out);

    // Held by a child process; looking must not change a byte of the object.
    handshake locked, finish;
    child_process holder([&] {
        pipc::robust_mutex mc(n.name);
        mc.lock();
        locked.signal();
        finish.wait(std::chrono::seconds(25));
        return true;
    });
    locked.wait();
    const std::string before = file_bytes(n.path());
    const auto held = lock_entry(n.name);
    BOOST_TEST(held.at("state").as_string() == "held");
    BOOST_TEST(held.at("owner_pid").as_int64() == holder.pid());
    // Under its shm object's name too, it is a lock, as `ls` names it.
    const auto as_shm =
        json(run({"shm", "info", "/pipc-robust-mutex." + n.name.substr(1), "--json"}).out)
            .as_object();
    BOOST_TEST(as_shm.at("kind").as_string() == "lock");
    BOOST_TEST(as_shm.at("name").as_string() == n.name);
    BOOST_TEST(as_shm.at("state").as_string() == "held");
    info = run({"lock", "info", n.name});
    BOOST_TEST(info.out.find("held by PID " + std::to_string(holder.pid())) != std::string::npos,
               info.out);
    const auto table = run({"ls", "--kind", "lock", "-o", "kind,name,state,holders"});
    BOOST_TEST(table.out.find("held:" + std::to_string(holder.pid())) != std::string::npos,
               table.out);
    if (root()) // the holder maps it
        BOOST_TEST(table.out.find(std::to_string(holder.pid()) + "(") != std::string::npos,
                   table.out);
    BOOST_TEST(file_bytes(n.path()) == before);

    // rm refuses a held mutex (exit 5, still there) unless --force.
    const auto refused = run({"lock", "rm", n.name});
    BOOST_TEST(refused.exit_code == 5);
    BOOST_TEST(one_line(refused.err));
    BOOST_TEST(refused.err.find("--force") != std::string::npos, refused.err);
    BOOST_TEST(file_exists(n.path()));

    // SIGKILL the holder: the kernel marks the mutex owner-dead.
    ::kill(holder.pid(), SIGKILL);
    BOOST_TEST(!holder.succeeded());
    BOOST_TEST(lock_state(n.name) == "owner_dead");
    BOOST_TEST(run({"lock", "info", n.name}).out.find("state:            owner dead\n") !=
               std::string::npos);
    BOOST_TEST(doctor_warns_about("robust_mutex", n.name));

    // Taken from the dead owner, not yet repaired: recovering, owned by this process.
    BOOST_TEST((m.lock() == pipc::lock_result::owner_dead));
    const auto recovering = lock_entry(n.name);
    BOOST_TEST(recovering.at("state").as_string() == "recovering");
    BOOST_TEST(recovering.at("owner_pid").as_int64() == ::getpid());

    // Unlocked without consistent(): not recoverable, and doctor says so.
    m.unlock();
    BOOST_TEST(lock_state(n.name) == "not_recoverable");
    BOOST_TEST(doctor_warns_about("robust_mutex", n.name, "not recoverable"));
    pipc::error_code ec;
    BOOST_TEST(!m.try_lock(ec)); // looking did not repair it either
    BOOST_TEST((ec == pipc::errc::not_recoverable));

    // Not held: rm removes it without --force.
    const auto rm = run({"lock", "rm", n.name});
    BOOST_TEST(rm.exit_code == 0, rm.err);
    BOOST_TEST(!file_exists(n.path()));
    BOOST_TEST(find(json(run({"ls", "--json"}).out), "lock", n.name) == nullptr);
}

BOOST_AUTO_TEST_CASE(lock_force_removes_a_held_mutex) {
    lock_name n;
    pipc::robust_mutex::options create;
    create.open = pipc::open_mode::create_exclusive;
    pipc::robust_mutex m(n.name, create);
    m.lock();
    BOOST_TEST(run({"lock", "rm", n.name}).exit_code == 5);
    BOOST_TEST(run({"lock", "rm", "--force", n.name}).exit_code == 0);
    BOOST_TEST(!file_exists(n.path()));
    m.unlock();
    // --force also means: a missing name is fine.
    BOOST_TEST(run({"lock", "rm", "--force", n.name}).exit_code == 0);
    const auto missing = run({"lock", "rm", n.name});
    BOOST_TEST(missing.exit_code == 3);
    BOOST_TEST(one_line(missing.err));
}

BOOST_AUTO_TEST_CASE(lock_errors_name_the_field_and_change_nothing) {
    const auto no_slash = run({"lock", "info", "jobs"});
    BOOST_TEST(no_slash.exit_code == 2);
    BOOST_TEST(one_line(no_slash.err));
    BOOST_TEST(no_slash.err.find("NAME") != std::string::npos, no_slash.err);

    const std::string too_long = "/" + std::string(238, 'a');
    const auto long_name = run({"lock", "rm", too_long});
    BOOST_TEST(long_name.exit_code == 2);
    BOOST_TEST(long_name.err.find("237") != std::string::npos, long_name.err);

    lock_name n;
    const auto missing = run({"lock", "info", n.name});
    BOOST_TEST(missing.exit_code == 3);
    BOOST_TEST(one_line(missing.err));

    // An object under the robust-mutex name that is not one: reported, never removed.
    const std::string object = "/pipc-robust-mutex." + n.name.substr(1);
    const int fd = ::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::ftruncate(fd, 100) == 0);
    ::close(fd);
    const auto bad_info = run({"lock", "info", n.name});
    BOOST_TEST(bad_info.exit_code == 2);
    BOOST_TEST(bad_info.err.find("robust") != std::string::npos, bad_info.err);
    const auto bad_rm = run({"lock", "rm", n.name});
    BOOST_TEST(bad_rm.exit_code == 2);
    BOOST_TEST(file_exists(n.path()));
    BOOST_TEST(lock_state(n.name) == "null"); // listed as a lock whose state is unknown
}

BOOST_AUTO_TEST_CASE(lock_state_needs_only_read_permission) {
    if (!root()) {
        BOOST_TEST_MESSAGE("skipped: needs root to run pipc as another user");
        return;
    }
    lock_name readable, hidden;
    pipc::robust_mutex::options create;
    create.open = pipc::open_mode::create_exclusive;
    create.permissions = 0644;
    pipc::robust_mutex a(readable.name, create);
    create.permissions = 0600;
    pipc::robust_mutex b(hidden.name, create);
    a.lock();
    const auto r = run({"ls", "--kind", "lock", "--json"}, as_nobody());
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto doc = json(r.out);
    const auto* ra = find(doc, "lock", readable.name);
    const auto* rb = find(doc, "lock", hidden.name);
    BOOST_REQUIRE(ra != nullptr);
    BOOST_REQUIRE(rb != nullptr);
    BOOST_TEST(ra->at("state").as_string() == "held");
    BOOST_TEST(ra->at("owner_pid").as_int64() == ::getpid());
    BOOST_TEST(rb->at("state").is_null()); // unknown, never "free"
    const auto info = run({"lock", "info", hidden.name}, as_nobody());
    BOOST_TEST(info.exit_code == 4, info.err);
    a.unlock();
}

BOOST_AUTO_TEST_CASE(channel_commands) {
    pipc_test::named n(object_kind::shared_memory, "chan");
    const std::string path = "/dev/shm/" + n.str().substr(1);

    const auto created = run({"channel", "create", n.str(), "--slots", "4", "--max-size", "64"});
    BOOST_TEST(created.exit_code == 0, created.err);
    BOOST_TEST(created.out.empty());
    struct ::stat st {};
    BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600U);

    // Again with the same geometry: fine, with a note; with another: exit 2, unchanged.
    const auto again = run({"channel", "create", n.str(), "--slots", "4", "--max-size", "64"});
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.err.find("exists already") != std::string::npos, again.err);
    const auto other = run({"channel", "create", n.str(), "--slots", "8", "--max-size", "64"});
    BOOST_TEST(other.exit_code == 2);
    BOOST_TEST(other.err.find("slot_count") != std::string::npos, other.err);
    BOOST_TEST(
        run({"channel", "create", n.str(), "--slots", "4", "--max-size", "64", "--exclusive"})
            .exit_code == 3);

    BOOST_TEST(run({"channel", "send", n.str(), "hello"}).exit_code == 0);
    run_options in;
    in.input = std::string("from\nstdin");
    BOOST_TEST(run({"channel", "send", n.str()}, in).exit_code == 0);
    const auto too_long = run({"channel", "send", n.str(), std::string(65, 'x')});
    BOOST_TEST(too_long.exit_code == 2);
    BOOST_TEST(one_line(too_long.err));
    BOOST_TEST(too_long.err.find("max message size is 64") != std::string::npos, too_long.err);

    const auto info = run({"channel", "info", n.str(), "--json"});
    BOOST_TEST(info.exit_code == 0, info.err);
    const auto doc = json(info.out).as_object();
    BOOST_TEST(doc.at("kind").as_string() == "channel");
    BOOST_TEST(doc.at("slots").as_int64() == 4);
    BOOST_TEST(doc.at("max_message_size").as_int64() == 64);
    BOOST_TEST(doc.at("channel_mode").as_string() == "spsc");
    BOOST_TEST(doc.at("mode").as_string() == "0600");
    BOOST_TEST(doc.at("fill").as_int64() == 2); // the too-long message was not sent
    BOOST_TEST(doc.at("consumer_pid").is_null());

    const auto ls = run({"ls", "--kind", "channel", "-o", "kind,name,fill,details"});
    BOOST_TEST(ls.out.find("fill=2/4,msgsize=64,spsc") != std::string::npos, ls.out);
    // A channel is listed as a channel, not as plain shared memory.
    const auto shm = json(run({"ls", "--kind", "shm", "--json"}).out);
    BOOST_TEST(find(shm, "shm", n.str()) == nullptr);

    const auto recv = run({"channel", "recv", n.str(), "-n", "2"});
    BOOST_TEST(recv.exit_code == 0, recv.err);
    BOOST_TEST(recv.out == "hello\nfrom\nstdin\n");
    const auto empty = run({"channel", "recv", n.str(), "--timeout", "0"});
    BOOST_TEST(empty.exit_code == 5);
    BOOST_TEST(one_line(empty.err));

    // A full channel: --timeout 0 gives up at once (exit 5) and sends nothing.
    for (int i = 0; i < 4; ++i) BOOST_TEST(run({"channel", "send", n.str(), "f"}).exit_code == 0);
    const auto full = run({"channel", "send", n.str(), "--timeout", "0", "extra"});
    BOOST_TEST(full.exit_code == 5);
    BOOST_TEST(full.err.find("still full") != std::string::npos, full.err);
    const auto partial = run({"channel", "recv", n.str(), "-n", "5", "--timeout", "0"});
    BOOST_TEST(partial.exit_code == 5, partial.err);
    BOOST_TEST(partial.out == "f\nf\nf\nf\n");
    BOOST_TEST(partial.err.find("(received 4 of 5)") != std::string::npos, partial.err);

    BOOST_TEST(run({"channel", "send", n.str(), "x"}).exit_code == 0);
    const auto js = json_lines(run({"channel", "recv", n.str(), "--json"}).out);
    BOOST_REQUIRE_EQUAL(js.size(), 1U);
    BOOST_TEST(js[0].at("data").as_string() == "x");

    const auto mpsc = run({"channel", "info", n.str()});
    BOOST_TEST(mpsc.out.find("producers:        spsc\n") != std::string::npos, mpsc.out);

    BOOST_TEST(run({"channel", "rm", n.str()}).exit_code == 0);
    BOOST_TEST(!file_exists(path));
    BOOST_TEST(run({"channel", "rm", n.str()}).exit_code == 3);
    BOOST_TEST(run({"channel", "rm", "-f", n.str()}).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(channel_errors_name_the_field_and_change_nothing) {
    pipc_test::named n(object_kind::shared_memory, "chan");
    const std::string path = "/dev/shm/" + n.str().substr(1);
    const auto expect_usage = [&](std::vector<std::string> args, const std::string& field) {
        const auto r = run(args);
        BOOST_TEST(r.exit_code == 2, field);
        BOOST_TEST(one_line(r.err));
        BOOST_TEST(r.err.find(field) != std::string::npos, r.err);
        BOOST_TEST(!file_exists(path));
    };
    expect_usage({"channel", "create", n.str(), "--slots", "3", "--max-size", "64"}, "--slots");
    expect_usage({"channel", "create", n.str(), "--slots", "131072", "--max-size", "64"},
                 "--slots");
    expect_usage({"channel", "create", n.str(), "--slots", "4", "--max-size", "0"}, "--max-size");
    expect_usage({"channel", "create", n.str(), "--slots", "4", "--max-size", "512M"},
                 "--max-size");
    expect_usage(
        {"channel", "create", n.str(), "--slots", "4", "--max-size", "64", "--mode", "0999"},
        "--mode");
    expect_usage({"channel", "create", n.str(), "--max-size", "64"}, "--slots");
    expect_usage({"channel", "create", "nochan", "--slots", "4", "--max-size", "64"}, "NAME");
    expect_usage({"channel", "recv", n.str(), "--timeout", "-1"}, "--timeout");

    BOOST_TEST(run({"channel", "send", n.str(), "x"}).exit_code == 3);
    BOOST_TEST(run({"channel", "info", n.str()}).exit_code == 3);

    // Plain shared memory is not a channel: info and rm refuse, and it stays.
    const int fd = ::shm_open(n.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::ftruncate(fd, 4096) == 0);
    ::close(fd);
    const auto not_channel = run({"channel", "rm", n.str()});
    BOOST_TEST(not_channel.exit_code == 2);
    BOOST_TEST(not_channel.err.find("channel") != std::string::npos, not_channel.err);
    BOOST_TEST(file_exists(path));
    BOOST_TEST(run({"channel", "info", n.str()}).exit_code == 2);
    BOOST_TEST(find(json(run({"ls", "--kind", "shm", "--json"}).out), "shm", n.str()) != nullptr);
}

// A FIFO in /dev/shm (a channel's doorbell is one) that no process holds: looking at it as a
// channel or as shared memory must answer at once, not wait for a writer, and change nothing.
BOOST_AUTO_TEST_CASE(fifo_under_the_name_is_looked_at_without_waiting) {
    pipc_test::named n(object_kind::shared_memory, "chan");
    const std::string path = "/dev/shm/" + n.str().substr(1);
    BOOST_REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    run_options quick;
    quick.timeout = std::chrono::seconds(10);
    const auto info = run({"channel", "info", n.str()}, quick);
    BOOST_TEST(!info.timed_out);
    BOOST_TEST(info.exit_code == 2);
    BOOST_TEST(info.err.find("not a channel") != std::string::npos, info.err);
    const auto shm_info = run({"shm", "info", n.str()}, quick);
    BOOST_TEST(!shm_info.timed_out);
    struct ::stat st {};
    BOOST_TEST(::lstat(path.c_str(), &st) == 0);
    BOOST_TEST(S_ISFIFO(st.st_mode));
    ::unlink(path.c_str());
}

// A channel's doorbells (FIFOs next to it) are listed as kind "bell" with their channel. Once
// the channel is removed by shm_unlink (pipc's unlink takes them along), ls marks them orphaned,
// doctor warns about them, and rm removes them by name.
BOOST_AUTO_TEST_CASE(channel_doorbells_in_ls_doctor_and_rm) {
    pipc_test::named n(object_kind::shared_memory, "chan");
    struct unlink_at_exit {
        std::string name;
        ~unlink_at_exit() {
            pipc::error_code ignored;
            pipc::unlink_channel(name, ignored);
        }
    } cleanup{n.str()};
    pipc::channel::options create;
    create.open = pipc::open_mode::create_exclusive;
    create.slot_count = 4;
    create.max_message_size = 32;
    pipc::channel ch(n.str(), create);
    // What an async_channel does when it opens the channel.
    for (const auto b : {pipc::detail::channel_bell::data, pipc::detail::channel_bell::room}) {
        pipc::error_code ec;
        const int fd = pipc::detail::channel_async_access::open_bell(ch, b, ec);
        BOOST_REQUIRE(!ec);
        ::close(fd);
    }
    ch.close();
    const std::string data_bell = n.str() + ".bell-data";
    const std::string room_bell = n.str() + ".bell-room";

    auto ls = json(run({"ls", "--kind", "bell", "--json"}).out);
    const auto* bell = find(ls, "bell", data_bell);
    BOOST_REQUIRE(bell != nullptr);
    BOOST_TEST(bell->at("channel").as_string() == n.str());
    BOOST_TEST(!bell->at("orphaned").as_bool());
    BOOST_TEST(find(ls, "bell", room_bell) != nullptr);
    BOOST_TEST(find(ls, "channel", n.str()) == nullptr); // --kind bell: the bells only
    BOOST_TEST(!doctor_warns_about("channel", data_bell));
    // `shm info` names what `ls` names: a bell (no size, its channel), and the channel itself.
    auto info = json(run({"shm", "info", data_bell, "--json"}).out).as_object();
    BOOST_TEST(info.at("kind").as_string() == "bell");
    BOOST_TEST(info.at("channel").as_string() == n.str());
    BOOST_TEST(!info.at("orphaned").as_bool());
    BOOST_TEST(info.at("size").is_null());
    info = json(run({"shm", "info", n.str(), "--json"}).out).as_object();
    BOOST_TEST(info.at("kind").as_string() == "channel");
    BOOST_TEST(info.at("size").as_int64() > 0);

    BOOST_REQUIRE(::shm_unlink(n.c_str()) == 0); // as a program that knows nothing of bells
    ls = json(run({"ls", "--json"}).out);
    bell = find(ls, "bell", data_bell);
    BOOST_REQUIRE(bell != nullptr);
    BOOST_TEST(bell->at("orphaned").as_bool());
    info = json(run({"shm", "info", data_bell, "--json"}).out).as_object();
    BOOST_TEST(info.at("orphaned").as_bool());
    BOOST_TEST(doctor_warns_about("channel", data_bell, "no longer exists"));

    const auto rm = run({"rm", data_bell, room_bell});
    BOOST_TEST(rm.exit_code == 0, rm.err);
    BOOST_TEST(rm.out.find("removed bell " + data_bell) != std::string::npos, rm.out);
    BOOST_TEST(!file_exists("/dev/shm/" + data_bell.substr(1)));
    BOOST_TEST(!file_exists("/dev/shm/" + room_bell.substr(1)));
}

BOOST_AUTO_TEST_CASE(channel_with_dead_consumer_and_producer) {
    pipc_test::named n(object_kind::shared_memory, "chan");
    pipc::channel::options create;
    create.open = pipc::open_mode::create_exclusive;
    create.slot_count = 4;
    create.max_message_size = 32;
    pipc::channel ch(n.str(), create);

    handshake ready, finish;
    child_process child([&] {
        pipc::channel c(n.str());
        c.send(std::string_view("one"));
        auto view = c.receive_view(); // the consumer role, holding a received message
        auto loan = c.loan();         // a claimed, unpublished slot
        ready.signal();
        finish.wait(std::chrono::seconds(25));
        return view.valid() && loan.valid();
    });
    ready.wait();
    auto live = json(run({"channel", "info", n.str(), "--json"}).out).as_object();
    BOOST_TEST(live.at("consumer_pid").as_int64() == child.pid());
    BOOST_TEST(live.at("consumer_dead").as_bool() == false);
    BOOST_TEST(live.at("fill").as_int64() == 2);
    BOOST_TEST(live.at("ready").as_int64() == 1);
    BOOST_TEST(live.at("dead_claims").as_array().empty());
    if (root()) {
        bool listed = false;
        for (const auto& h : live.at("holders").as_array())
            listed = listed || h.at("pid").as_int64() == child.pid();
        BOOST_TEST(listed);
    }

    // Another live consumer: recv is told so (exit 5) and takes nothing.
    const auto busy = run({"channel", "recv", n.str(), "--timeout", "0"});
    BOOST_TEST(busy.exit_code == 5);
    BOOST_TEST(busy.err.find("consumer") != std::string::npos, busy.err);

    ::kill(child.pid(), SIGKILL);
    BOOST_TEST(!child.succeeded());
    const auto dead = json(run({"channel", "info", n.str(), "--json"}).out).as_object();
    BOOST_TEST(dead.at("consumer_dead").as_bool() == true);
    BOOST_REQUIRE_EQUAL(dead.at("dead_claims").as_array().size(), 1U);
    BOOST_TEST(dead.at("dead_claims").as_array()[0].at("pid").as_int64() == child.pid());
    BOOST_TEST(
        doctor_warns_about("channel", n.str(), "consumer (PID " + std::to_string(child.pid())));
    BOOST_TEST(
        doctor_warns_about("channel", n.str(), "producer PID " + std::to_string(child.pid())));
    const auto text = run({"channel", "info", n.str()}).out;
    BOOST_TEST(text.find("(dead)") != std::string::npos, text);

    // Looking changed nothing: this process takes over and gets the message again.
    std::array<std::byte, 32> buf{};
    pipc::error_code ec;
    const auto got = ch.receive_for(buf, std::chrono::seconds(10), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(got.has_value());
    BOOST_TEST(ch.took_over());
    ch.close();
}

BOOST_AUTO_TEST_CASE(rm_and_ls_know_locks_and_channels) {
    lock_name l;
    pipc_test::named c(object_kind::shared_memory, "chan");
    {
        pipc::robust_mutex::options o;
        o.open = pipc::open_mode::create_exclusive;
        pipc::robust_mutex m(l.name, o);
        pipc::channel::options co;
        co.open = pipc::open_mode::create_exclusive;
        pipc::channel ch(c.str(), co);
    }
    const auto kinds = json(run({"ls", "--json"}).out);
    BOOST_TEST(find(kinds, "lock", l.name) != nullptr);
    BOOST_TEST(find(kinds, "channel", c.str()) != nullptr);
    // `pipc rm NAME` finds the kind by itself, and says which it removed.
    const auto rl = run({"rm", l.name});
    BOOST_TEST(rl.exit_code == 0, rl.err);
    BOOST_TEST(rl.out == "removed lock " + l.name + "\n");
    BOOST_TEST(!file_exists(l.path()));
    const auto rc = run({"rm", "--kind", "channel", c.str()});
    BOOST_TEST(rc.exit_code == 0, rc.err);
    BOOST_TEST(rc.out == "removed channel " + c.str() + "\n");
}

BOOST_AUTO_TEST_CASE(rm_unused_removes_an_unused_lock_under_its_object_name) {
    if (!root()) {
        BOOST_TEST_MESSAGE("skipped: needs root for a PID namespace");
        return;
    }
    lock_name l;
    {
        pipc::robust_mutex::options o;
        o.open = pipc::open_mode::create_exclusive;
        pipc::robust_mutex m(l.name, o);
    }
    // A plain segment of the same name: must survive the lock's removal.
    const std::string twin_name = l.name;
    struct unlink_twin {
        const std::string& name;
        ~unlink_twin() {
            pipc::error_code ignored;
            pipc::unlink_shared_memory(name, ignored);
        }
    } const twin_guard{twin_name};
    const int fd = ::shm_open(twin_name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    run_options alone;
    alone.in_child = alone_in_a_pid_namespace;
    const auto r = run(
        {"--trust-pid-namespace", "rm", "--unused", "--kind", "lock", "--match", l.name, "--json"},
        alone);
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_REQUIRE_EQUAL(j.at("removed").as_array().size(), 1U);
    BOOST_TEST(j.at("removed").as_array()[0].at("kind").as_string() == "lock");
    BOOST_TEST(!file_exists(l.path()));
    BOOST_TEST(file_exists("/dev/shm/" + twin_name.substr(1)));
}
