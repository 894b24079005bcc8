// A program outside the pipc tree: it only sees the installed headers and pipc::pipc.
#include <pipc/pipc.hpp>

#include <iostream>

int main() {
    pipc::semaphore sem(pipc::unique_name, {.initial_value = 1});
    const bool ok = sem.try_acquire() && sem.value() == 0;
    sem.unlink();
    std::cout << "consumer " << (ok ? "ok" : "FAILED") << " with pipc " << pipc::version_string
              << '\n';
    return ok ? 0 : 1;
}
