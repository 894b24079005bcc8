// SPDX-License-Identifier: BSL-1.0
// examples/quickstart.cpp - posix_ipc's quickstart in C++: a semaphore, a shared-memory segment
// written and read through a mapping, and a message queue round trip with a priority.
#include <pipc/pipc.hpp>

#include <cstring>
#include <iostream>
#include <string_view>

int main() {
    // Semaphore: created with value 1, acquired (0), released (1).
    {
        pipc::semaphore sem(pipc::unique_name,
                            {.open = pipc::open_mode::create_exclusive, .initial_value = 1});
        std::cout << "semaphore " << sem.name() << " value " << sem.value() << '\n';
        sem.acquire();
        std::cout << "acquired, value " << sem.value() << '\n';
        sem.release();
        std::cout << "released, value " << sem.value() << '\n';
        sem.unlink(); // the destructor closes; removing the name is always explicit
    }

    // Shared memory: 128 bytes, written through one mapping and read back through another.
    {
        pipc::shared_memory shm(pipc::unique_name,
                                {.open = pipc::open_mode::create_exclusive, .size = 128});
        constexpr std::string_view greeting = "Hello from shared memory!";
        auto writer = shm.map();
        std::memcpy(writer.data(), greeting.data(), greeting.size());
        const auto reader = shm.map_read_only(0, greeting.size());
        std::cout << "shared memory " << shm.name() << " size " << shm.size() << ": "
                  << std::string_view(reinterpret_cast<const char*>(reader.data()), reader.size())
                  << '\n';
        shm.unlink();
    }

    // Message queue: two messages; the higher priority one comes out first.
    {
        pipc::message_queue mq(pipc::unique_name, {.open = pipc::open_mode::create_exclusive,
                                                   .max_messages = 10,
                                                   .max_message_size = 64});
        mq.send("Hello from message queue!", 0);
        mq.send("urgent", 7);
        for (int i = 0; i < 2; ++i) {
            const pipc::message m = mq.receive();
            std::cout << "received \"" << m.text() << "\" priority " << m.priority << '\n';
        }
        mq.unlink();
    }
}
