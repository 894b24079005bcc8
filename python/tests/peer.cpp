// SPDX-License-Identifier: BSL-1.0
// pipc_py_peer - the C++ side of the Python interop test (test_interop.py).
//
//   pipc_py_peer MQ_IN MQ_OUT SEMAPHORE SHM
//
// 1. Receives 3 messages from MQ_IN (they come highest priority first), echoes each to MQ_OUT as
//    "cpp:<text>" with the same priority, then sends "order:<t1>,<t2>,<t3>" with priority 0.
// 2. Acquires SEMAPHORE (Python releases it after writing a NUL-terminated string at offset 0 of
//    SHM), writes "cpp saw <string>" at offset 1024, sends "shm-done" (priority 0) on MQ_OUT.
// 3. Releases SEMAPHORE twice.
// Every wait is bounded; a watchdog alarm kills a stuck peer. Exit status 0 only if all went well.
#include <pipc/pipc.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s MQ_IN MQ_OUT SEMAPHORE SHM\n", argv[0]);
        return 2;
    }
    ::alarm(30);
    using namespace std::chrono_literals;
    try {
        pipc::message_queue::options in_opts;
        in_opts.access = pipc::access::read_only;
        pipc::message_queue in(argv[1], in_opts);
        pipc::message_queue::options out_opts;
        out_opts.access = pipc::access::write_only;
        pipc::message_queue out(argv[2], out_opts);
        pipc::semaphore sem(argv[3]);
        pipc::shared_memory shm(argv[4]);

        std::vector<std::byte> buffer(static_cast<std::size_t>(in.max_message_size()));
        std::string order = "order:";
        for (int i = 0; i < 3; ++i) {
            const auto r = in.receive_for(buffer, 10s);
            if (!r) {
                std::fprintf(stderr, "peer: no message %d\n", i);
                return 3;
            }
            const std::string text(reinterpret_cast<const char*>(buffer.data()), r->size);
            out.send("cpp:" + text, r->priority);
            order += (i ? "," : "") + text;
        }
        out.send(order, 0);

        if (!sem.try_acquire_for(10s)) {
            std::fprintf(stderr, "peer: semaphore never released\n");
            return 4;
        }
        auto map = shm.map();
        const auto bytes = map.bytes();
        const char* text = reinterpret_cast<const char*>(bytes.data());
        const std::string seen(text, ::strnlen(text, 1024));
        const std::string reply = "cpp saw " + seen;
        std::memcpy(bytes.data() + 1024, reply.c_str(), reply.size() + 1);
        out.send(std::string_view("shm-done"), 0);
        sem.release(2);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "peer: %s\n", e.what());
        return 1;
    }
    return 0;
}
