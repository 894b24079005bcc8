// SPDX-License-Identifier: BSL-1.0
// The helper-thread pool behind basic_async_semaphore. See semaphore_waiter_service.hpp for the
// contract; this file is about who may touch what when.
//
// Locking: one mutex per service guards the op lists, the helpers' state and the ready list.
// Nothing that can run user code (handler destruction, posting a completion) happens under it,
// because a destroyed coroutine frame may destroy an I/O object that calls back into us.
// The state's destructor never takes the lock, so dropping a state reference under it is fine.

#include <pipc/asio/semaphore_waiter_service.hpp>

#include "common.hpp"
#include "helper_thread.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace pipc {

namespace asio = boost::asio;

namespace detail {

using acquire_handler = asio::any_completion_handler<void(error_code)>;

struct semaphore_wait_op {
    semaphore_wait_op* prev = nullptr;
    semaphore_wait_op* next = nullptr;
    std::shared_ptr<async_semaphore_state> state;
    acquire_handler handler;
    /// Keeps the I/O object's context (and the handler's) busy, so run() does not return while
    /// the wait is pending.
    asio::any_io_executor io_work;
    asio::any_completion_executor handler_work;
    asio::cancellation_slot slot;
    deadline dl;
    bool queued = false;
    /// A partial/total cancellation arrived while the helper may already be taking a unit for
    /// this (lone) op; the helper settles it at its next wake-up.
    bool cancel_requested = false;
};

struct semaphore_worker {
    semaphore_waiter_service* service = nullptr;
    helper_thread thread;
    ::pid_t pid = 0; ///< The process that started the thread (a forked child has no such thread).
    std::condition_variable cv;
    std::shared_ptr<async_semaphore_state> current;
    bool sleeping = false; ///< Inside sem_clockwait on current (or about to take the lock after).
    bool exited = false;

    // futex_waitv helpers. Everything but wake_seq is guarded by the service's mutex; `members`
    // is written only by the helper itself, so it may read it without the lock.
    /// Bumped (and futex-woken) to make the helper look again: its own wake-up word, waited on
    /// together with the semaphores.
    std::atomic<std::uint32_t> wake_seq{0};
    std::vector<std::shared_ptr<async_semaphore_state>> members;  ///< Registered as a waiter.
    std::vector<std::shared_ptr<async_semaphore_state>> incoming; ///< Assigned, not yet adopted.
    std::size_t load = 0;                                         ///< members + incoming
    bool in_wait = false; ///< Between building its wait set and coming back from futex_waitv.
    std::chrono::steady_clock::time_point sleep_until =
        std::chrono::steady_clock::time_point::max();
    std::chrono::steady_clock::time_point rotate_at = std::chrono::steady_clock::time_point::max();
};

namespace {

using op_allocator = asio::any_completion_handler_allocator<semaphore_wait_op, void(error_code)>;

semaphore_wait_op* make_op(acquire_handler&& h) {
    op_allocator alloc(h.get_allocator());
    semaphore_wait_op* op = alloc.allocate(1);
    ::new (static_cast<void*>(op)) semaphore_wait_op();
    // Same handler impl, so `alloc` stays valid for the deallocation. swap, not move assignment:
    // Boost 1.81's any_completion_handler::operator=(&&) recurses forever (it copies `other` as
    // an lvalue into a new wrapper).
    op->handler.swap(h);
    return op;
}

/// Frees the op's memory and returns its handler: the memory goes back before the upcall.
acquire_handler release_op(semaphore_wait_op* op) {
    acquire_handler h = std::move(op->handler);
    op_allocator alloc(h.get_allocator());
    op->~semaphore_wait_op();
    alloc.deallocate(op, 1);
    return h;
}

void link_back(async_semaphore_state& st, semaphore_wait_op* op) {
    op->prev = st.tail;
    op->next = nullptr;
    (st.tail ? st.tail->next : st.head) = op;
    st.tail = op;
    op->queued = true;
    st.queued.fetch_add(1, std::memory_order_release);
}

void unlink(async_semaphore_state& st, semaphore_wait_op* op) {
    (op->prev ? op->prev->next : st.head) = op->next;
    (op->next ? op->next->prev : st.tail) = op->prev;
    op->prev = op->next = nullptr;
    op->queued = false;
    st.queued.fetch_sub(1, std::memory_order_release);
}

/// Fails every acquire queued on `st` with `ec` (their completions are posted by the caller,
/// after the lock).
template <class DoneList>
void fail_queued(async_semaphore_state& st, const error_code& ec, DoneList& done) {
    while (st.head) {
        semaphore_wait_op* op = st.head;
        unlink(st, op);
        done.emplace_back(op, ec);
    }
}

void give_back(::sem_t* sem) {
    if (sys().sem_post(sem) != 0)
        log_debug("semaphore_waiter_service: giving back a unit failed: errno {}", errno);
}

/// Whether a helper that has just handed out a unit of `st` stays on it for config::linger. Not
/// when the object's wait strategy spins: its next acquire spins in the initiation, on the I/O
/// thread, and needs no helper; a futex_waitv helper that stayed registered would make every
/// sem_post of the peer a FUTEX_WAKE system call, and, woken, would wait for the spinning
/// thread's CPU before it could leave (measured in docs/asio-semaphore.md, "Linger").
bool lingers(const semaphore_waiter_service::config& c, const async_semaphore_state& st) noexcept {
    return c.linger.count() > 0 && st.sem->strategy().current_budget().count() == 0;
}

const error_code& timed_out() {
    static const error_code ec(ETIMEDOUT, boost::system::system_category());
    return ec;
}

// ---- glibc's sem_t, seen from the outside ---------------------------------------------------
//
// glibc >= 2.21 on 64-bit targets: struct new_sem { uint64_t data; int private; int pad; }.
// The low 32 bits of `data` are the value (and the futex word, at offset 0 on little-endian),
// the high 32 bits count the threads blocked in sem_wait. sem_post adds 1 to the value and
// futex-wakes one waiter when that count is non-zero; sem_wait adds itself to the count, sleeps
// on the value word while it reads 0, takes a unit with a CAS, and removes itself. A helper
// that adds itself to the count and sleeps on the word (with futex_waitv, on many words at
// once) is therefore woken by sem_post exactly like a blocked sem_wait. It takes units only
// with sem_trywait, so the value itself is never touched by anything but glibc.
// futex_waitv_supported() checks this layout once per process; nothing here runs if it fails.

constexpr std::uint64_t nwaiters_one = std::uint64_t{1} << 32;
constexpr std::uint32_t futex2_size_u32 = 0x02; // FUTEX2_SIZE_U32 (FUTEX_32)
constexpr std::uint32_t futex2_private = 128;   // FUTEX2_PRIVATE == FUTEX_PRIVATE_FLAG
// new_sem::private of a process-shared sem (glibc's LLL_SHARED; a process-private one holds 0,
// which glibc XORs into FUTEX_PRIVATE_FLAG).
constexpr int glibc_futex_shared = 128;
constexpr std::size_t waitv_max = FUTEX_WAITV_MAX; // the kernel's limit, ours included

std::atomic_ref<std::uint64_t> sem_data(::sem_t* sem) noexcept {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(sem));
}
std::uint32_t* sem_word(::sem_t* sem) noexcept {
    return reinterpret_cast<std::uint32_t*>(sem);
}
int sem_shared_field(::sem_t* sem) noexcept {
    int v = 0;
    std::memcpy(&v, reinterpret_cast<const char*>(sem) + sizeof(std::uint64_t), sizeof v);
    return v;
}
bool sem_is_private(::sem_t* sem) noexcept {
    return sem_shared_field(sem) != glibc_futex_shared;
}
std::uint32_t sem_value(::sem_t* sem) noexcept {
    return static_cast<std::uint32_t>(sem_data(sem).load(std::memory_order_relaxed));
}

long futex_wake(std::uint32_t* word, bool is_private) noexcept {
    return ::syscall(SYS_futex, word, FUTEX_WAKE | (is_private ? FUTEX_PRIVATE_FLAG : 0), 1,
                     nullptr, nullptr, 0);
}

/// futex_waitv with an absolute CLOCK_MONOTONIC deadline (nullptr: none). Returns the index of
/// the woken word, or -1 with errno (EAGAIN: a word did not hold its expected value).
long futex_waitv(::futex_waitv* v, std::size_t n, const ::timespec* abs) noexcept {
    return ::syscall(SYS_futex_waitv, v, static_cast<unsigned>(n), 0U, abs, CLOCK_MONOTONIC);
}

::futex_waitv waitv_entry(std::uint32_t* word, std::uint32_t expected, bool is_private) noexcept {
    ::futex_waitv e{};
    e.val = expected;
    e.uaddr = reinterpret_cast<std::uintptr_t>(word);
    e.flags = futex2_size_u32 | (is_private ? futex2_private : 0);
    return e;
}

/// Counts the helper as a blocked waiter, so that sem_post issues a futex wake.
void register_waiter(::sem_t* sem) noexcept {
    sem_data(sem).fetch_add(nwaiters_one, std::memory_order_seq_cst);
}

/// The opposite. A sem_post wakes one waiter; if that was us and we leave without taking the
/// unit, another waiter (this process or another) may sleep on a non-zero value, so pass the
/// wake on, as a sem_wait that times out after being woken would have to.
void unregister_waiter(::sem_t* sem) noexcept {
    const std::uint64_t d = sem_data(sem).fetch_sub(nwaiters_one, std::memory_order_seq_cst);
    if (static_cast<std::uint32_t>(d) != 0) futex_wake(sem_word(sem), sem_is_private(sem));
}

bool check_layout() noexcept {
    if constexpr (std::endian::native != std::endian::little || sizeof(void*) != 8) return false;
    if (sizeof(::sem_t) < 16 || alignof(::sem_t) < alignof(std::uint64_t)) return false;
    for (const int pshared : {0, 1}) {
        ::sem_t s;
        if (::sem_init(&s, pshared, 7) != 0) return false;
        bool ok =
            sem_data(&s).load() == 7 && sem_shared_field(&s) == (pshared ? glibc_futex_shared : 0);
        // A waiter in the high half must not change what glibc sees as the value.
        register_waiter(&s);
        int v = -1;
        ok = ok && ::sem_getvalue(&s, &v) == 0 && v == 7 && ::sem_trywait(&s) == 0 &&
             sem_data(&s).load() == (nwaiters_one | 6) && ::sem_post(&s) == 0 &&
             ::sem_post(&s) == 0 && sem_data(&s).load() == (nwaiters_one | 8);
        sem_data(&s).fetch_sub(nwaiters_one);
        ok = ok && sem_data(&s).load() == 8 && sem_value(&s) == 8;
        ::sem_destroy(&s);
        if (!ok) return false;
    }
    return true;
}

bool check_futex_waitv() noexcept {
    // A shared (not private) word, as for a named semaphore: the value differs (EAGAIN), then
    // the value matches and the deadline has passed (ETIMEDOUT). ENOSYS: kernel < 5.16.
    ::sem_t s;
    if (::sem_init(&s, 1, 1) != 0) return false;
    ::futex_waitv v[2] = {waitv_entry(sem_word(&s), 0, false), waitv_entry(sem_word(&s), 1, false)};
    const ::timespec past{0, 0};
    bool ok = futex_waitv(v, 1, &past) == -1 && errno == EAGAIN;
    ok = ok && futex_waitv(v + 1, 1, &past) == -1 && errno == ETIMEDOUT;
    ::sem_destroy(&s);
    return ok;
}

bool waitv_disabled_by_environment() noexcept {
    const char* e = std::getenv("PIPC_SEMAPHORE_WAITV"); // NOLINT(concurrency-mt-unsafe)
    return e && (std::strcmp(e, "0") == 0 || std::strcmp(e, "off") == 0);
}

} // namespace
} // namespace detail

using detail::acquire_handler;
using detail::async_semaphore_state;
using detail::semaphore_wait_op;
using detail::semaphore_worker;

// Asio's service-id idiom: a static object whose constructor cannot actually throw.
boost::asio::execution_context::id semaphore_waiter_service::id; // NOLINT(cert-err58-cpp)

/// A completion on its way to the handler. It is posted to the I/O executor (so run() sees it
/// and the helper wakes the I/O thread once), then dispatched to the handler's associated
/// executor, usually the same and then run inline. Only there is the cancellation slot cleared:
/// Asio lets a slot be touched only where its signal is emitted, which is the handler's
/// executor (its strand). The op's memory goes back before the upcall.
/// Destroyed without running (its execution context went away), it returns an acquired unit.
struct semaphore_waiter_service::completion {
    semaphore_wait_op* op;
    error_code ec;
    bool on_handler_executor = false;

    completion(semaphore_wait_op* o, const error_code& e) noexcept : op(o), ec(e) {}
    completion(completion&& other) noexcept
        : op(std::exchange(other.op, nullptr)), ec(other.ec),
          on_handler_executor(other.on_handler_executor) {}
    completion& operator=(completion&&) = delete;
    ~completion() {
        if (!op) return;
        if (op->slot.is_connected()) op->slot.clear();
        if (!ec) detail::give_back(op->state->raw);
        acquire_handler h = detail::release_op(std::exchange(op, nullptr));
    }

    void operator()() {
        if (!on_handler_executor) {
            on_handler_executor = true;
            const auto ex = asio::get_associated_executor(op->handler, op->io_work);
            asio::dispatch(ex, std::move(*this));
            return;
        }
        semaphore_wait_op* o = std::exchange(op, nullptr);
        if (o->slot.is_connected()) o->slot.clear();
        acquire_handler h = detail::release_op(o);
        std::move(h)(ec);
    }
};

struct semaphore_waiter_service::cancel_handler {
    semaphore_waiter_service* service;
    semaphore_wait_op* op;
    void operator()(asio::cancellation_type_t type) const { service->cancel_op(op, type); }
};

void semaphore_waiter_service::post_all(done_list& done) {
    for (auto& [op, ec] : done) {
        // The op's tracked work travels to the I/O thread inside the completion and is
        // released there. A tracked copy held here (or inside post) past the post could be the
        // last one: this thread would then call the scheduler's stop() at any later moment,
        // even after the I/O thread's next restart(), and run() would return with the
        // completion still queued.
        const asio::any_io_executor ex =
            asio::prefer(op->io_work, asio::execution::outstanding_work.untracked);
        asio::post(ex, completion(op, ec));
    }
    done.clear();
}

bool semaphore_waiter_service::futex_waitv_supported() noexcept {
    static const bool ok = detail::check_layout() && detail::check_futex_waitv();
    return ok;
}

semaphore_waiter_service::semaphore_waiter_service(asio::execution_context& ctx)
    : asio::execution_context::service(ctx),
      multi_(!detail::waitv_disabled_by_environment() && futex_waitv_supported()) {}

semaphore_waiter_service::~semaphore_waiter_service() {
    stop_workers(true);
}

void semaphore_waiter_service::configure(const config& c) {
    std::lock_guard lk(mutex_);
    config_ = c;
    config_.slice = std::max(config_.slice, std::chrono::milliseconds(1));
    config_.max_threads = std::max<std::size_t>(config_.max_threads, 1);
    config_.per_thread = std::clamp<std::size_t>(config_.per_thread, 1, detail::waitv_max - 1);
}

semaphore_waiter_service::config semaphore_waiter_service::configuration() const {
    std::lock_guard lk(mutex_);
    return config_;
}

std::size_t semaphore_waiter_service::thread_count() const {
    std::lock_guard lk(mutex_);
    return static_cast<std::size_t>(
        std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return !w->exited; }));
}

void semaphore_waiter_service::async_acquire(const std::shared_ptr<async_semaphore_state>& state,
                                             asio::any_io_executor io_ex, acquire_handler handler,
                                             detail::deadline dl) {
    semaphore_wait_op* op = detail::make_op(std::move(handler));
    op->state = state;
    op->dl = dl;
    op->handler_work = asio::prefer(asio::get_associated_executor(op->handler, io_ex),
                                    asio::execution::outstanding_work.tracked);
    op->io_work = asio::prefer(std::move(io_ex), asio::execution::outstanding_work.tracked);
    op->slot = asio::get_associated_cancellation_slot(op->handler);
    if (op->slot.is_connected())
        op->slot.template emplace<cancel_handler>(cancel_handler{this, op});

    std::vector<semaphore_worker*> to_wake;
    std::vector<std::unique_ptr<semaphore_worker>> to_join;
    done_list done;
    {
        std::unique_lock lk(mutex_);
        if (shut_down_) {
            lk.unlock();
            // Like any op started on a context that has shut down: destroyed, never invoked.
            if (op->slot.is_connected()) op->slot.clear();
            acquire_handler h = detail::release_op(op);
            return;
        }
        // Reap helpers that exited after their idle timeout.
        for (auto it = workers_.begin(); it != workers_.end();) {
            if ((*it)->exited) {
                to_join.push_back(std::move(*it));
                it = workers_.erase(it);
            } else {
                ++it;
            }
        }
        detail::link_back(*state, op);
        assign_worker_locked(state, to_wake, done);
        // A futex_waitv helper already asleep on this semaphore computed its timeout without
        // this deadline: have it look again so the deadline is kept exactly.
        semaphore_worker* w = state->worker;
        if (multi_ && w && !dl.infinite && dl.when < w->sleep_until) wake_locked(w);
    }
    for (auto* w : to_wake) w->cv.notify_one();
    post_all(done); // no helper could be started for them
    for (auto& w : to_join) detail::join(w->thread);
}

void* semaphore_waiter_service::thread_main(void* worker) noexcept {
    // noexcept: an exception escaping a helper terminates, as it would from a std::thread.
    auto* w = static_cast<semaphore_worker*>(worker);
    if (w->service->multi_)
        w->service->run_multi_worker(w);
    else
        w->service->run_worker(w);
    return nullptr;
}

std::size_t semaphore_waiter_service::live_workers_locked() const {
    return static_cast<std::size_t>(
        std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return !w->exited; }));
}

int semaphore_waiter_service::start_worker_locked(
    const std::shared_ptr<async_semaphore_state>& state) {
    auto w = std::make_unique<semaphore_worker>();
    w->service = this;
    w->pid = ::getpid();
    if (multi_) {
        w->incoming.push_back(state);
        w->load = 1;
    } else {
        w->current = state;
    }
    // Set before the thread runs: it reads them under the lock, which we hold.
    state->worker = w.get();
    workers_.reserve(workers_.size() + 1); // a running thread's worker must not be lost to a throw
    const int err = detail::start_helper_thread(w->thread, &thread_main, w.get());
    if (err != 0) {
        state->worker = nullptr;
        // Not the last reference to the state (the caller's, and its ops'): no sem_close here.
        detail::log_debug("semaphore_waiter_service: cannot start a helper: errno {}", err);
        return err;
    }
    workers_.push_back(std::move(w));
    return 0;
}

void semaphore_waiter_service::assign_worker_locked(
    const std::shared_ptr<async_semaphore_state>& state, std::vector<semaphore_worker*>& to_wake,
    done_list& done) {
    if (state->worker || state->in_ready) return; // a helper is on it (no hand-off needed)
    if (!stopping_) {
        if (multi_) {
            const std::size_t cap = config_.per_thread;
            for (auto& w : workers_) {
                if (w->exited || w->load >= cap) continue;
                w->incoming.push_back(state);
                ++w->load;
                state->worker = w.get();
                wake_locked(w.get());
                return;
            }
        } else if (!idle_.empty()) {
            semaphore_worker* w = idle_.back();
            idle_.pop_back();
            w->current = state;
            state->worker = w;
            to_wake.push_back(w);
            return;
        }
        const std::size_t live = live_workers_locked();
        if (live < config_.max_threads) {
            const int err = start_worker_locked(state);
            if (err == 0) return;
            if (live == 0) {
                // No helper exists to take this queue from ready_ and none could be started
                // (EAGAIN: RLIMIT_NPROC or no memory for a stack): it would wait forever. Fail
                // what is queued; the next acquire tries to start a helper again. With helpers
                // alive, they are all busy (or full) and take turns with it below instead.
                detail::fail_queued(*state, detail::errno_code(err), done);
                return;
            }
        }
    }
    state->in_ready = true;
    ready_.push_back(state);
    // futex_waitv helpers are all full: they start taking turns (one slice each) once they
    // notice. Fallback helpers notice at the end of their current slice.
    if (multi_)
        for (auto& w : workers_)
            if (!w->exited) wake_locked(w.get());
}

void semaphore_waiter_service::wake_locked(semaphore_worker* w) {
    w->wake_seq.fetch_add(1, std::memory_order_release);
    // Outside futex_waitv the helper reads everything under the lock before it sleeps again,
    // and the bumped sequence makes that sleep return at once: no system call needed.
    if (w->in_wait) detail::futex_wake(reinterpret_cast<std::uint32_t*>(&w->wake_seq), true);
}

void semaphore_waiter_service::wake_after_cancel_locked(async_semaphore_state& st) {
    // The helper drops a semaphore nobody waits for at its next look (so the sem_close of a
    // closed object is not held up); without a wake that could be much later.
    if (multi_ && st.worker && !st.head) wake_locked(st.worker);
}

void semaphore_waiter_service::run_multi_worker(semaphore_worker* w) {
    using clock = std::chrono::steady_clock;
    done_list done;
    std::vector<std::shared_ptr<async_semaphore_state>> dropped;
    std::vector<::futex_waitv> waitv;
    waitv.reserve(detail::waitv_max);
    auto idle_since = clock::now();

    // Leaves the wait set: sem_post stops waking us (a wake we consumed is passed on).
    auto drop = [&](std::size_t i) {
        auto& st = w->members[i];
        detail::unregister_waiter(st->raw);
        st->registered = false;
        st->lingering = false;
        st->worker = nullptr;
        --w->load;
        if (st->head) {
            st->in_ready = true;
            ready_.push_back(std::move(st));
        } else {
            dropped.push_back(std::move(st));
        }
        w->members[i] = std::move(w->members.back());
        w->members.pop_back();
    };

    std::unique_lock lk(mutex_);
    for (;;) {
        if (!done.empty() || !dropped.empty()) {
            lk.unlock();
            post_all(done);
            dropped.clear(); // may sem_close: not under the lock
            lk.lock();
            continue;
        }
        if (stopping_) break;
        const std::size_t cap = config_.per_thread;
        for (auto& st : w->incoming) {
            detail::register_waiter(st->raw);
            st->registered = true;
            w->members.push_back(std::move(st));
        }
        w->incoming.clear();
        while (w->load < cap && !ready_.empty()) {
            auto st = std::move(ready_.front());
            ready_.pop_front();
            st->in_ready = false;
            st->worker = w;
            detail::register_waiter(st->raw);
            st->registered = true;
            w->members.push_back(std::move(st));
            ++w->load;
        }

        auto now = clock::now();
        auto until = clock::time_point::max();
        // More semaphores with waiters than helpers can hold: take turns, one slice each.
        if (ready_.empty()) {
            w->rotate_at = clock::time_point::max();
        } else if (w->rotate_at == clock::time_point::max()) {
            w->rotate_at = now + config_.slice;
        } else if (now >= w->rotate_at) {
            w->rotate_at = clock::time_point::max();
            for (std::size_t i = w->members.size(); i-- > 0;) drop(i);
            continue;
        }
        until = std::min(until, w->rotate_at);

        for (std::size_t i = 0; i < w->members.size();) {
            async_semaphore_state& st = *w->members[i];
            bool took = false;
            // First come, first served: each free unit goes to the oldest queued acquire, even
            // if a cancellation for it is on its way (the acquire won that race).
            while (st.head && detail::sys().sem_trywait(st.raw) == 0) {
                semaphore_wait_op* op = st.head;
                detail::unlink(st, op);
                done.emplace_back(op, error_code{});
                took = true;
            }
            for (semaphore_wait_op* op = st.head; op;) {
                semaphore_wait_op* next = op->next;
                if (!op->dl.infinite && op->dl.when <= now) {
                    detail::unlink(st, op);
                    done.emplace_back(op, detail::timed_out());
                } else if (!op->dl.infinite) {
                    until = std::min(until, op->dl.when);
                }
                op = next;
            }
            if (st.head) {
                st.lingering = false;
                ++i;
                continue;
            }
            // Nobody waits. Right after a hand-out, stay registered for a moment: the handler
            // usually acquires again, and then finds us already asleep on the word.
            if (took && detail::lingers(config_, st)) {
                st.lingering = true;
                st.linger_until = now + config_.linger;
            }
            if (st.lingering && st.linger_until > now && detail::sem_value(st.raw) == 0) {
                until = std::min(until, st.linger_until);
                ++i;
                continue;
            }
            drop(i); // (a lingering member with a free unit would make futex_waitv spin)
        }
        if (!done.empty() || !dropped.empty()) continue; // post first, then wait

        if (w->members.empty() && w->incoming.empty()) {
            if (now - idle_since >= config_.idle_timeout) break;
            until = std::min(until, idle_since + config_.idle_timeout);
        } else {
            idle_since = now;
        }

        waitv.clear();
        waitv.push_back(detail::waitv_entry(reinterpret_cast<std::uint32_t*>(&w->wake_seq),
                                            w->wake_seq.load(std::memory_order_acquire), true));
        for (const auto& st : w->members)
            waitv.push_back(
                detail::waitv_entry(detail::sem_word(st->raw), 0, detail::sem_is_private(st->raw)));
        ::timespec ts{};
        const bool timed = until != clock::time_point::max();
        if (timed) ts = detail::to_timespec(until.time_since_epoch());
        w->sleep_until = until;
        w->in_wait = true;
        lk.unlock();
        const long rc = detail::futex_waitv(waitv.data(), waitv.size(), timed ? &ts : nullptr);
        const int err = rc >= 0 ? 0 : errno;
        lk.lock();
        w->in_wait = false;
        w->sleep_until = clock::time_point::max();
        if (rc >= 1 && std::size_t(rc) <= w->members.size()) {
            // A post woke us for this member: serve it before anything else (the full scan
            // touches every member's page), and let the I/O thread run before we rebuild the
            // wait set, which costs a futex key per member.
            async_semaphore_state& st = *w->members[std::size_t(rc) - 1];
            while (st.head && detail::sys().sem_trywait(st.raw) == 0) {
                semaphore_wait_op* op = st.head;
                detail::unlink(st, op);
                done.emplace_back(op, error_code{});
            }
            if (!done.empty()) {
                const bool linger = !st.head && detail::lingers(config_, st);
                const auto linger_until = clock::now() + config_.linger;
                if (linger) {
                    st.lingering = true;
                    st.linger_until = linger_until;
                }
                lk.unlock();
                post_all(done);
                // As the fallback helpers do: give the CPU to the I/O thread until the handler
                // has acquired again (or the linger is over), so that on a shared CPU the
                // handler runs before we rebuild the wait set. Only while it has not: the I/O
                // thread usually preempted us at the post and is done already, and a yield then
                // hands the CPU to the other process instead (a whole extra context switch per
                // hand-out: 3.9x the raw ping-pong instead of 2.7x, same-cpu).
                while (linger && st.queued.load(std::memory_order_acquire) == 0 &&
                       clock::now() < linger_until)
                    ::sched_yield();
                lk.lock();
            }
            continue;
        }
        if (rc >= 0 || err == EAGAIN || err == ETIMEDOUT || err == EINTR) continue;
        // Not expected once the start-up check passed (EFAULT would mean a sem_t gone from under
        // us, which the shared handles rule out): fail the waiters rather than spin.
        detail::log_debug("semaphore_waiter_service: futex_waitv failed: errno {}", err);
        const error_code ec = detail::errno_code(err);
        for (auto& st : w->members)
            while (st->head) {
                semaphore_wait_op* op = st->head;
                detail::unlink(*st, op);
                done.emplace_back(op, ec);
            }
    }
    // Stopping (fork_prepare, shutdown) or idle: hand the queues on and leave every wait set.
    for (auto& st : w->incoming) {
        st->worker = nullptr;
        if (st->head) {
            st->in_ready = true;
            ready_.push_back(std::move(st));
        } else {
            dropped.push_back(std::move(st));
        }
    }
    w->incoming.clear();
    w->load = w->members.size();
    for (std::size_t i = w->members.size(); i-- > 0;) drop(i);
    w->load = 0;
    w->exited = true;
    lk.unlock();
    post_all(done);
    dropped.clear();
}

void semaphore_waiter_service::run_worker(semaphore_worker* w) {
    done_list done;
    std::shared_ptr<async_semaphore_state> dropped;
    bool delivered = false; ///< The last wake-up handed out a unit.
    std::unique_lock lk(mutex_);
    for (;;) {
        if (!done.empty() || dropped) {
            lk.unlock();
            post_all(done);
            dropped.reset(); // may sem_close: not under the lock
            lk.lock();
            continue;
        }
        if (stopping_) break;
        if (!w->current) {
            if (!ready_.empty()) {
                w->current = std::move(ready_.front());
                ready_.pop_front();
                w->current->in_ready = false;
                w->current->worker = w;
                continue;
            }
            idle_.push_back(w);
            const bool woken =
                w->cv.wait_for(lk, config_.idle_timeout, [&] { return w->current || stopping_; });
            if (!w->current) {
                idle_.erase(std::remove(idle_.begin(), idle_.end(), w), idle_.end());
                if (!woken) break; // idle for idle_timeout: exit
            }
            continue;
        }

        async_semaphore_state& st = *w->current;
        const auto now = std::chrono::steady_clock::now();
        auto until = now + config_.slice;
        for (semaphore_wait_op* op = st.head; op;) {
            semaphore_wait_op* next = op->next;
            if (op->cancel_requested) {
                detail::unlink(st, op);
                done.emplace_back(op, asio::error::operation_aborted);
            } else if (!op->dl.infinite && op->dl.when <= now) {
                detail::unlink(st, op);
                done.emplace_back(op, detail::timed_out());
            } else if (!op->dl.infinite) {
                until = std::min(until, op->dl.when);
            }
            op = next;
        }
        if (!st.head) {
            if (delivered && detail::lingers(config_, st)) {
                // The handler we just completed usually starts the next acquire at once (a
                // loop, a ping-pong). Staying on the queue for a moment lets that acquire find a
                // helper already here, instead of paying a condition-variable hand-off.
                // sched_yield lets an I/O thread on this CPU run first.
                delivered = false;
                const auto linger_until = now + config_.linger;
                lk.unlock();
                post_all(done);
                while (st.queued.load(std::memory_order_acquire) == 0 &&
                       std::chrono::steady_clock::now() < linger_until)
                    ::sched_yield();
                lk.lock();
                continue;
            }
            st.worker = nullptr; // nothing left to wait for: park (after posting what is done)
            dropped = std::move(w->current);
            continue;
        }
        delivered = false;
        if (!done.empty()) continue; // post first, then wait

        const ::timespec ts = detail::to_timespec(until.time_since_epoch());
        ::sem_t* const sem = st.raw;
        w->sleeping = true;
        lk.unlock();
        const int rc = detail::sys().sem_clockwait(sem, CLOCK_MONOTONIC, &ts);
        const int err = rc == 0 ? 0 : errno;
        lk.lock();
        w->sleeping = false;

        if (rc == 0) {
            if (!st.head) { // every waiter was cancelled while the unit was on its way
                detail::give_back(sem);
                continue;
            }
            // The unit belongs to the first waiter still queued, even if a cancellation for it
            // is pending: the acquire won that race. Then take what else is free without waiting.
            do {
                semaphore_wait_op* op = st.head;
                detail::unlink(st, op);
                done.emplace_back(op, error_code{});
            } while (st.head && detail::sys().sem_trywait(sem) == 0);
            delivered = true;
        } else if (err == ETIMEDOUT || err == EINTR) {
            if (err == ETIMEDOUT && !ready_.empty()) { // other semaphores wait for a helper
                st.worker = nullptr;
                st.in_ready = true;
                ready_.push_back(std::move(w->current));
            }
        } else { // EINVAL & co.: the handle is unusable, fail everyone waiting on it
            const error_code ec = detail::errno_code(err);
            while (st.head) {
                semaphore_wait_op* op = st.head;
                detail::unlink(st, op);
                done.emplace_back(op, ec);
            }
        }
    }
    // Stopping (fork_prepare, shutdown) or idle timeout: leave the queue for the next helper.
    if (w->current) {
        w->current->worker = nullptr;
        if (w->current->head) {
            w->current->in_ready = true;
            ready_.push_back(std::move(w->current));
        } else {
            dropped = std::move(w->current);
        }
    }
    w->exited = true;
    lk.unlock();
    post_all(done);
    dropped.reset();
}

void semaphore_waiter_service::cancel_op(semaphore_wait_op* op, asio::cancellation_type_t type) {
    std::unique_lock lk(mutex_);
    if (!op->queued) return; // already completing; its slot is cleared where it is emitted
    async_semaphore_state& st = *op->state;
    if (multi_) {
        // futex_waitv helpers take units only under this lock, so no unit is ever in flight
        // for a queued op: every kind of cancellation is immediate and side-effect free.
        detail::unlink(st, op);
        wake_after_cancel_locked(st);
        lk.unlock();
        done_list done{{op, asio::error::operation_aborted}};
        post_all(done);
        return;
    }
    const bool side_effect_free =
        (type & (asio::cancellation_type::partial | asio::cancellation_type::total)) !=
        asio::cancellation_type::none;
    if (side_effect_free && st.worker && st.worker->sleeping && st.head == op && st.tail == op) {
        // The helper may be taking a unit for this op right now; removing the op would force a
        // give-back that other processes could observe. Let the helper settle it: success if
        // the unit arrives first, operation_aborted at its next wake-up (within one slice).
        op->cancel_requested = true;
        return;
    }
    // Either another waiter stays queued (a unit in flight goes to it), or nothing is in
    // flight, or terminal cancellation was asked for, which may give a late unit back.
    detail::unlink(st, op);
    lk.unlock();
    done_list done{{op, asio::error::operation_aborted}};
    post_all(done);
}

void semaphore_waiter_service::cancel(async_semaphore_state& st) {
    done_list done;
    {
        std::lock_guard lk(mutex_);
        while (st.head) {
            semaphore_wait_op* op = st.head;
            detail::unlink(st, op);
            done.emplace_back(op, asio::error::operation_aborted);
        }
        wake_after_cancel_locked(st);
    }
    post_all(done);
}

void semaphore_waiter_service::stop_workers(bool for_shutdown) {
    std::vector<std::unique_ptr<semaphore_worker>> all;
    {
        std::lock_guard lk(mutex_);
        stopping_ = true;
        if (for_shutdown) shut_down_ = true;
        for (auto& w : workers_) {
            w->cv.notify_one();
            if (multi_) wake_locked(w.get());
        }
        all = std::move(workers_);
        workers_.clear();
    }
    const ::pid_t self = ::getpid();
    for (auto& w : all) {
        if (w->pid != self) {
            // A child forked without notify_fork: the thread does not exist here. Joining would
            // hang, so let it go.
            (void)w.release();
            continue;
        }
        detail::join(w->thread);
    }
    std::lock_guard lk(mutex_);
    idle_.clear();
}

void semaphore_waiter_service::restart_workers_locked(std::vector<semaphore_worker*>& to_wake,
                                                      done_list& done) {
    std::deque<std::shared_ptr<async_semaphore_state>> waiting;
    waiting.swap(ready_);
    for (auto& st : waiting) {
        st->in_ready = false;
        assign_worker_locked(st, to_wake, done);
    }
}

void semaphore_waiter_service::notify_fork(asio::execution_context::fork_event event) {
    if (event == asio::execution_context::fork_prepare) {
        stop_workers(false); // the queues stay; every helper is joined (up to one slice)
        return;
    }
    std::vector<semaphore_worker*> to_wake;
    done_list done;
    {
        std::lock_guard lk(mutex_);
        if (shut_down_) return;
        stopping_ = false;
        restart_workers_locked(to_wake, done);
    }
    for (auto* w : to_wake) w->cv.notify_one();
    post_all(done);
}

void semaphore_waiter_service::shutdown() {
    stop_workers(true);
    std::deque<std::shared_ptr<async_semaphore_state>> waiting;
    std::vector<semaphore_wait_op*> ops;
    {
        std::lock_guard lk(mutex_);
        waiting.swap(ready_);
        for (auto& st : waiting) {
            st->in_ready = false;
            while (st->head) {
                semaphore_wait_op* op = st->head;
                detail::unlink(*st, op);
                ops.push_back(op);
            }
        }
    }
    // Asio destroys pending handlers at shutdown without invoking them; these hold no unit.
    for (auto* op : ops) {
        if (op->slot.is_connected()) op->slot.clear();
        acquire_handler h = detail::release_op(op);
    }
}

} // namespace pipc
