// SPDX-License-Identifier: BSL-1.0
// `pipc shm ...` against raw shm_open/mmap in this process.
#define BOOST_TEST_MODULE pipc_cli_shm
#include <boost/test/unit_test.hpp>

#include "run_pipc.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

using namespace pipc_cli_test;
using pipc::object_kind;
using pipc_test::exists;
using pipc_test::named;

namespace {
struct raw_segment {
    int fd;
    explicit raw_segment(const std::string& name) : fd(::shm_open(name.c_str(), O_RDWR, 0)) {
        BOOST_REQUIRE_MESSAGE(fd >= 0, "shm_open " << name << ": " << std::strerror(errno));
    }
    ~raw_segment() { ::close(fd); }
    std::uint64_t size() const {
        struct ::stat st {};
        BOOST_REQUIRE(::fstat(fd, &st) == 0);
        return static_cast<std::uint64_t>(st.st_size);
    }
    std::string read_all() const {
        const auto n = size();
        if (n == 0) return {};
        void* p = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
        BOOST_REQUIRE(p != MAP_FAILED);
        std::string out(static_cast<const char*>(p), n);
        ::munmap(p, n);
        return out;
    }
    void write_at(std::size_t offset, const std::string& data) const {
        const auto n = size();
        void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        BOOST_REQUIRE(p != MAP_FAILED);
        std::memcpy(static_cast<char*>(p) + offset, data.data(), data.size());
        ::munmap(p, n);
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(create_with_size_suffix_and_mode) {
    named m(object_kind::shared_memory);
    const auto r = run({"shm", "create", m.str(), "--size", "8K", "--mode", "640"});
    BOOST_TEST(r.exit_code == 0, r.err);
    raw_segment raw(m.str());
    BOOST_TEST(raw.size() == 8192u);
    struct ::stat st {};
    BOOST_REQUIRE(::fstat(raw.fd, &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0640u);
    BOOST_TEST(run({"shm", "create", m.str(), "--size", "1", "--exclusive"}).exit_code == 3);
    BOOST_TEST(run({"shm", "create", m.str(), "--size", "1"}).exit_code == 0);
    BOOST_TEST(raw.size() == 8192u); // an existing segment is left alone
}

BOOST_AUTO_TEST_CASE(write_reads_back_through_raw_mmap) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "4KiB"}).exit_code == 0);
    std::string payload("binary\0\xff payload", 16);
    run_options in;
    in.input = payload;
    const auto r = run({"shm", "write", m.str(), "--offset", "100"}, in);
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto all = raw_segment(m.str()).read_all();
    BOOST_REQUIRE(all.size() == 4096u);
    BOOST_TEST(all.substr(100, payload.size()) == payload);
    BOOST_TEST(all.substr(0, 100) == std::string(100, '\0'));
}

BOOST_AUTO_TEST_CASE(raw_write_is_read_by_pipc) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "1K"}).exit_code == 0);
    raw_segment(m.str()).write_at(10, "from raw mmap");
    const auto part = run({"shm", "read", m.str(), "--offset", "10", "--length", "13"});
    BOOST_TEST(part.exit_code == 0, part.err);
    BOOST_TEST(part.out == "from raw mmap");
    const auto whole = run({"shm", "read", m.str()});
    BOOST_TEST(whole.out.size() == 1024u);
    BOOST_TEST(whole.out.substr(10, 13) == "from raw mmap");
    const auto tail = run({"shm", "read", m.str(), "--offset", "1K"});
    BOOST_TEST(tail.exit_code == 0);
    BOOST_TEST(tail.out.empty());
}

BOOST_AUTO_TEST_CASE(out_of_range_is_usage_error_and_writes_nothing) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "16"}).exit_code == 0);
    run_options in;
    in.input = "0123456789";
    const auto past = run({"shm", "write", m.str(), "--offset", "8"}, in);
    BOOST_TEST(past.exit_code == 2, past.err);
    BOOST_TEST(one_line(past.err), past.err);
    BOOST_TEST(raw_segment(m.str()).read_all() == std::string(16, '\0'));
    BOOST_TEST(run({"shm", "read", m.str(), "--offset", "17"}).exit_code == 2);
    BOOST_TEST(run({"shm", "read", m.str(), "--length", "17"}).exit_code == 2);
    BOOST_TEST(run({"shm", "write", m.str(), "--offset", "1x"}, in).exit_code == 2);
}

BOOST_AUTO_TEST_CASE(resize_grows_and_shrinks) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "4K"}).exit_code == 0);
    BOOST_TEST(run({"shm", "resize", m.str(), "--size", "1M"}).exit_code == 0);
    BOOST_TEST(raw_segment(m.str()).size() == 1048576u);
    BOOST_TEST(run({"shm", "resize", m.str(), "--size", "100"}).exit_code == 0);
    BOOST_TEST(raw_segment(m.str()).size() == 100u);
    BOOST_TEST(run({"shm", "resize", m.str(), "--size", "1P"}).exit_code == 1);
    BOOST_TEST(raw_segment(m.str()).size() == 100u);
}

BOOST_AUTO_TEST_CASE(info_json_shows_size_and_this_process_as_holder) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "12K", "--mode", "0600"}).exit_code ==
                  0);
    raw_segment raw(m.str()); // an open descriptor makes this process a holder
    const auto r = run({"shm", "info", m.str(), "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto j = json(r.out);
    BOOST_TEST(j.at("kind").as_string() == "shm");
    BOOST_TEST(j.at("size").as_int64() == 12288);
    BOOST_TEST(j.at("mode").as_string() == "0600");
    BOOST_REQUIRE(j.at("holders").as_array().size() == 1u);
    BOOST_TEST(j.at("holders").at(0).at("pid").as_int64() == ::getpid());
    BOOST_TEST(j.at("holders").at(0).at("command").is_string());
}

BOOST_AUTO_TEST_CASE(rm) {
    named m(object_kind::shared_memory);
    BOOST_REQUIRE(run({"shm", "create", m.str(), "--size", "1"}).exit_code == 0);
    BOOST_TEST(run({"shm", "rm", m.str()}).exit_code == 0);
    BOOST_TEST(!exists(object_kind::shared_memory, m.str()));
    BOOST_TEST(run({"shm", "rm", m.str()}).exit_code == 3);
}
