// SPDX-License-Identifier: BSL-1.0
// tests/tools/run_pipc.hpp - runs the real `pipc` binary (path from PIPC_CLI_PATH) with fork+exec,
// feeding stdin and capturing stdout, stderr and the exit code, killed after a timeout.
#pragma once

#include <pipc_test/support.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef PIPC_CLI_PATH
#error "PIPC_CLI_PATH must name the pipc binary"
#endif

namespace pipc_cli_test {

struct result {
    int exit_code = -1; ///< -1 when killed by a signal (or by the timeout).
    std::string out;
    std::string err;
    bool timed_out = false;
};

struct run_options {
    std::string input;              ///< Written to stdin, which is then closed.
    std::function<bool()> in_child; ///< Runs after fork, before exec; false aborts the child.
    std::chrono::milliseconds timeout{20000};
};

/// SIGPIPE would kill the test when pipc exits without reading all of stdin.
struct ignore_sigpipe {
    ignore_sigpipe() { ::signal(SIGPIPE, SIG_IGN); }
};

inline result run(const std::vector<std::string>& args, const run_options& opts = {}) {
    static const ignore_sigpipe once;
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
        throw std::runtime_error("pipe2 failed");
    std::vector<std::string> argv_storage{PIPC_CLI_PATH};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        // Opened before in_child may drop privileges: the build tree can sit in a directory that
        // uid 65534 may not traverse (mktemp -d makes 0700 ones), and exec by descriptor does not
        // walk the path again.
        const int binary = ::open(argv[0], O_RDONLY | O_CLOEXEC);
        if (opts.in_child && !opts.in_child()) ::_exit(126);
        if (binary >= 0) ::fexecve(binary, argv.data(), environ);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));

    result r;
    std::size_t written = 0;
    int in_fd = in[1];
    if (opts.input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    }
    int out_fd = out[0], err_fd = err[0];
    const auto deadline = std::chrono::steady_clock::now() + opts.timeout;
    while (out_fd >= 0 || err_fd >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        pollfd p[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
        const int n = ::poll(p, 3, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("poll failed");
        for (int i = 0; i < 2; ++i) {
            int& fd = i == 0 ? out_fd : err_fd;
            if (fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            const ssize_t got = ::read(fd, buf, sizeof buf);
            if (got > 0)
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
            else if (got == 0 || errno != EINTR) {
                ::close(fd);
                fd = -1;
            }
        }
        if (in_fd >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const ssize_t w =
                ::write(in_fd, opts.input.data() + written, opts.input.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (w < 0 || written == opts.input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
    }
    for (int fd : {in_fd, out_fd, err_fd})
        if (fd >= 0) ::close(fd);
    if (!r.timed_out && pidfd >= 0) {
        // Both pipes are closed; wait (bounded) for the exit itself.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{pidfd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) != 1)
            r.timed_out = true;
    }
    if (pidfd >= 0) ::close(pidfd);
    if (r.timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!r.timed_out && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    return r;
}

inline result run(std::initializer_list<std::string> args, const run_options& opts = {}) {
    return run(std::vector<std::string>(args), opts);
}

/// Parses one JSON document; throws (failing the test) if pipc printed something else.
inline boost::json::value json(const std::string& text) {
    return boost::json::parse(text);
}

/// JSON Lines: one document per non-empty line.
inline std::vector<boost::json::value> json_lines(const std::string& text) {
    std::vector<boost::json::value> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) out.push_back(boost::json::parse(text.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

inline std::string base64_decode(const std::string& in) {
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (const char c : in) {
        if (c == '=') break;
        const auto pos = alphabet.find(c);
        if (pos == std::string::npos) throw std::runtime_error("bad base64");
        acc = (acc << 6) | static_cast<unsigned>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

/// Does stderr hold exactly one line (the contract for errors)?
inline bool one_line(const std::string& err) {
    return !err.empty() && err.back() == '\n' && err.find('\n') == err.size() - 1;
}

} // namespace pipc_cli_test
