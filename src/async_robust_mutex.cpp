// SPDX-License-Identifier: BSL-1.0
// The holder thread behind basic_async_robust_mutex (pipc/asio/async_robust_mutex.hpp).
//
// A robust pthread mutex belongs to the thread that locked it: glibc records it on that thread's
// robust list (which is what lets the kernel report owner death), and pthread_mutex_unlock and
// pthread_mutex_consistent from any other thread fail or corrupt the owner field. So every lock
// of one async mutex is taken, held and released by one dedicated thread, the holder; the
// io_context side only sends it requests. The holder waits in pthread_mutex_clocklock one slice
// at a time so that cancellation and shutdown are noticed without signals.
//
// Locking: one std::mutex per async mutex guards the request queue, the commands, the grant
// state and the stop flag. No handler runs and no handler is destroyed under it (a destroyed
// coroutine frame may destroy the I/O object, which takes the lock again): completions are
// posted after it is released.
//
// Grant states: a lock the holder took for an op is `pending` until its completion runs on the
// io side (then `delivered`: the user owns it and must unlock()). If the completion is destroyed
// without running (the execution context shut down), or close() comes first, it is `revoked`
// and the holder releases it by itself. Releasing a lock taken with owner_dead without a repair
// would make the mutex unrecoverable for everybody, so the holder *abandons* such a lock
// instead: the thread ends while holding it, the kernel marks it owner-dead again for the next
// locker, and a successor thread takes over the remaining requests.
//
// Fork: a child forked while a holder runs has a copy of the state but not the thread, and the
// lock the holder owns is the parent's (the kernel records the parent thread's TID in it). The
// first call in the child notices (a pthread_atfork handler counts forks; comparing the count is
// one load, where getpid() would be a system call on every lock) and forgets what was the
// parent's: the thread, the lock, and the copies of the operations pending at the fork (they
// complete with operation_aborted; the parent completes the originals). The child's own locks
// then start a holder of its own. Like every fork of a threaded process, this relies on the
// holder not being inside the state's mutex at that moment (it takes it only briefly).
//
// Threads are started with sys().pthread_create (so tests can make it fail). When a holder
// cannot be started (EAGAIN under RLIMIT_NPROC, or no memory for its stack), nobody would serve
// the queue: what is queued completes with that error and `holder_running` stays false, so the
// next request tries again. The ended thread, if any, stays in `thread` for the next holder (or
// close()) to join.

#include <pipc/asio/detail/robust_lock_holder.hpp>

#include "common.hpp"
#include "helper_thread.hpp"
#include "log_internal.hpp"
#include "sys.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace pipc::detail {

namespace asio = boost::asio;

namespace {

enum class command { unlock, consistent, drop };
enum class grant_state { none, pending, delivered, revoked };

} // namespace

struct robust_lock_op {
    std::shared_ptr<robust_lock_state> st;
    robust_lock_holder::handler_type handler;
    /// Keeps the I/O executor's context busy (run() does not return while the lock is pending).
    asio::any_io_executor io_work;
    asio::cancellation_slot slot;
    deadline dl;
    bool done = false; ///< Guarded by st->m: the outcome is decided (a completion is posted).
};

struct robust_lock_state {
    explicit robust_lock_state(robust_mutex&& handle) : mtx(std::move(handle)) {}

    robust_mutex mtx;
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::shared_ptr<robust_lock_op>> queue;
    std::deque<command> commands;
    std::shared_ptr<robust_lock_op> active; ///< The op the holder is locking for right now.
    /// The newest holder thread (it joins its predecessor first); close() joins it. It may have
    /// ended (abandoned without a successor): `holder_running` says whether one serves.
    helper_thread thread;
    /// A holder thread serves the queue (a request need not start one).
    bool holder_running = false;
    bool stop = false;
    bool holder_holds = false;         ///< The holder thread owns the pthread lock.
    bool holder_owner_dead = false;    ///< ... taken with owner_dead and not yet consistent().
    bool holder_sleeping = false;      ///< The holder waits on cv: only then is it notified.
    std::atomic<unsigned> work_seq{0}; ///< Bumped (under m) whenever the holder has news.
    /// forks_seen() when this process last used the state (written under m; read without it by
    /// owns_lock() and inconsistent()).
    std::atomic<unsigned> forks{0};
    grant_state grant = grant_state::none;
    // The fast path (lock on the calling thread): the grant belongs to `inline_owner`, not to
    // the holder thread; only that thread may unlock it, consistent() it or release it.
    bool grant_inline = false;
    bool inline_owner_dead = false; ///< ... taken with owner_dead and not yet consistent().
    std::thread::id inline_owner;
    // The io side's view (read without the lock by owns_lock() and inconsistent()).
    std::atomic<bool> owns{false};
    std::atomic<bool> inconsistent{false};
};

namespace {

using op_ptr = std::shared_ptr<robust_lock_op>;

std::atomic<unsigned> fork_count{0};

/// The pthread_atfork child handler: one lock-free add, safe in the child of a threaded fork.
void count_fork() noexcept {
    fork_count.fetch_add(1, std::memory_order_relaxed);
}

/// Registers count_fork once, before the first state exists (a fork before that leaves nothing
/// to forget). glibc unregisters it if the library is unloaded.
void watch_forks() noexcept {
    static const bool watching = [] {
        if (const int err = ::pthread_atfork(nullptr, nullptr, &count_fork); err != 0) {
            log_debug("async robust mutex: pthread_atfork failed (errno {}): a forked child "
                      "cannot tell that its inherited holder threads are gone",
                      err);
            return false;
        }
        return true;
    }();
    (void)watching;
}

unsigned forks_seen() noexcept {
    return fork_count.load(std::memory_order_relaxed);
}

/// Whether `st` was last used before a fork, by the parent of this process.
bool inherited(const robust_lock_state& st) noexcept {
    return st.forks.load(std::memory_order_relaxed) != forks_seen();
}

/// Wakes the holder thread if it sleeps on cv (when it is awake it sees the change before it
/// sleeps again: every field it looks at is guarded by st.m). Call with st.m held.
void wake_holder_locked(robust_lock_state& st) {
    st.work_seq.fetch_add(1, std::memory_order_release);
    if (st.holder_sleeping) st.cv.notify_one();
}

/// How long an idle holder keeps yielding before it sleeps on cv: an unlock or the next request
/// that comes within it costs no wake-up (measured in docs/robust_mutex.md, "Cost": 20 us halves
/// the uncontended round trip and removes a wake-up per hand-off; the bench showed no gain at
/// 50 us). sched_yield, not a busy loop: on one CPU the thread it waits for must run.
constexpr std::chrono::microseconds spin_budget{20};

/// Releases a lock the fast path took for an operation that was never delivered (close() came
/// first, or the completion was destroyed without running). Only the owning thread can: from
/// any other thread the lock stays held until that thread ends (then owner_dead). A lock taken
/// with owner_dead is never unlocked unrepaired (that would make it not recoverable for
/// everybody): it stays held until the owning thread ends. Call with st.m held.
void release_inline_locked(robust_lock_state& st) {
    if (!st.grant_inline) return;
    st.grant_inline = false;
    st.grant = grant_state::none;
    if (st.inline_owner != std::this_thread::get_id() || st.inline_owner_dead) {
        log_debug("async robust mutex \"{}\": an undelivered fast-path lock stays held by its "
                  "thread until that thread ends",
                  st.mtx.name());
        return;
    }
    error_code ec;
    st.mtx.unlock(ec);
    if (ec) log_debug("async robust mutex: unlock failed: {}", ec.message());
}

struct completion {
    op_ptr op;
    error_code ec;
    lock_result result = lock_result::acquired;
    bool granted = false;
    bool on_handler_executor = false;

    completion(op_ptr o, const error_code& e, lock_result r, bool g) noexcept
        : op(std::move(o)), ec(e), result(r), granted(g) {}
    completion(completion&& other) noexcept
        : op(std::move(other.op)), ec(other.ec), result(other.result), granted(other.granted),
          on_handler_executor(other.on_handler_executor) {}
    completion& operator=(completion&&) = delete;
    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;

    ~completion() {
        if (!op) return;
        // Destroyed without running (the context shut down): a lock taken for it goes back.
        if (op->slot.is_connected()) op->slot.clear();
        if (granted) {
            auto& st = *op->st;
            std::lock_guard lk(st.m);
            if (inherited(st)) {
                // Forked meanwhile: the lock is the parent's, nothing here to give back.
            } else if (st.grant_inline) {
                if (st.grant == grant_state::pending || st.grant == grant_state::revoked)
                    release_inline_locked(st);
            } else if (st.grant == grant_state::pending) {
                st.grant = grant_state::revoked;
                st.commands.push_back(command::drop);
                wake_holder_locked(st);
            }
        }
        robust_lock_holder::handler_type h = std::move(op->handler);
        op.reset(); // the handler (and whatever it owns) goes last, outside every lock
    }

    void operator()() {
        if (!on_handler_executor) {
            on_handler_executor = true;
            const auto ex = asio::get_associated_executor(op->handler, op->io_work);
            asio::dispatch(ex, std::move(*this));
            return;
        }
        op_ptr o = std::move(op);
        // The holder thread may still hold a reference to the op: its tracked work must end
        // here, on the I/O thread, not with the op's last reference.
        o->io_work = asio::any_io_executor();
        if (o->slot.is_connected()) o->slot.clear();
        if (granted) {
            auto& st = *o->st;
            std::lock_guard lk(st.m);
            if (st.grant == grant_state::pending && !inherited(st)) {
                st.grant = grant_state::delivered;
                st.inconsistent.store(result == lock_result::owner_dead);
                st.owns.store(true);
            } else {
                if (st.grant_inline && !inherited(st)) release_inline_locked(st);
                // close() came first and the holder lets go of it, or this is a forked child
                // and the lock is the parent's: not ours.
                ec = asio::error::operation_aborted;
                result = lock_result::acquired;
            }
        }
        robust_lock_holder::handler_type h = std::move(o->handler);
        o.reset();
        std::move(h)(ec, result);
    }
};

void post_completion(op_ptr op, const error_code& ec, lock_result r, bool granted) {
    // Untracked, as the semaphore waiter service posts: the op's tracked work is released on
    // the I/O thread (completion::operator()), never last on this one, which would stop the
    // io_context at an arbitrary moment.
    const asio::any_io_executor ex =
        asio::prefer(op->io_work, asio::execution::outstanding_work.untracked);
    asio::post(ex, completion(std::move(op), ec, r, granted));
}

/// Decides `op` as aborted unless already decided; call with st.m held. Returns whether it did.
bool abort_locked(robust_lock_state& st, const op_ptr& op) {
    if (op->done) return false;
    op->done = true;
    const auto it = std::find(st.queue.begin(), st.queue.end(), op);
    if (it != st.queue.end()) st.queue.erase(it);
    return true;
}

struct cancel_handler {
    std::weak_ptr<robust_lock_op> weak;
    void operator()(asio::cancellation_type_t type) const {
        if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
            asio::cancellation_type::none)
            return;
        op_ptr op = weak.lock();
        if (!op) return;
        bool aborted = false;
        {
            std::lock_guard lk(op->st->m);
            aborted = abort_locked(*op->st, op);
        }
        // The holder stops trying within one slice; a lock it takes meanwhile goes back.
        if (aborted) post_completion(std::move(op), asio::error::operation_aborted, {}, false);
    }
};

const error_code& timed_out() {
    static const error_code ec(ETIMEDOUT, boost::system::system_category());
    return ec;
}

struct failed {
    op_ptr op;
    error_code ec;
};

void run_holder(const std::shared_ptr<robust_lock_state>& sp);

/// What a new holder thread needs: the state, and the thread it replaces (joined first, so that
/// the predecessor's robust list is processed before this one locks).
struct holder_start {
    std::shared_ptr<robust_lock_state> sp;
    helper_thread predecessor;
};

void* holder_main(void* arg) noexcept {
    // noexcept: an exception escaping the holder terminates, as it would from a std::thread.
    std::unique_ptr<holder_start> start(static_cast<holder_start*>(arg));
    join(start->predecessor);
    const std::shared_ptr<robust_lock_state> sp = std::move(start->sp);
    start.reset();
    run_holder(sp);
    return nullptr;
}

/// Starts a holder thread for `sp`, which replaces (and joins) `st.thread`. Returns 0, or the
/// errno of the failed start (then nothing changed). Call with st.m held.
int start_holder_locked(const std::shared_ptr<robust_lock_state>& sp) {
    auto& st = *sp;
    std::unique_ptr<holder_start> start;
    try {
        start = std::make_unique<holder_start>(holder_start{sp, st.thread});
    } catch (const std::bad_alloc&) {
        return ENOMEM;
    }
    if (const int err = start_helper_thread(st.thread, &holder_main, start.get()); err != 0) {
        log_debug("async robust mutex \"{}\": cannot start a holder thread: errno {}",
                  st.mtx.name(), err);
        return err;
    }
    (void)start.release(); // the thread owns it now
    st.holder_running = true;
    return 0;
}

/// No holder serves `st` (none could be started): every queued request fails with `ec` (into
/// `done`, posted by the caller after st.m), so that none waits for a thread that does not
/// exist. Commands are moot (nothing is held for them). Call with st.m held.
void fail_queued_locked(robust_lock_state& st, const error_code& ec, std::vector<failed>& done) {
    for (auto& op : st.queue) {
        if (op->done) continue;
        op->done = true;
        done.push_back(failed{std::move(op), ec});
    }
    st.queue.clear();
    st.commands.clear();
}

/// The holder thread is about to end holding the lock: glibc and the kernel hand it on as
/// owner-dead. ThreadSanitizer does not model that (and may reuse the thread's id), so it is
/// told the lock was released here, or the next lock would be reported as a double lock.
void announce_release_at_exit([[maybe_unused]] const robust_mutex& m) noexcept {
#if defined(__SANITIZE_THREAD__)
    __tsan_mutex_pre_unlock(m.native_handle(), 0);
    __tsan_mutex_post_unlock(m.native_handle(), 0);
#endif
}

/// The holder owns an owner-dead lock nobody will repair: it ends holding it (the kernel marks
/// it owner-dead again for the next locker) and a successor serves what is left; if none can be
/// started, what is left fails with its errno (into `done`). st.m held.
void abandon_locked(const std::shared_ptr<robust_lock_state>& sp, std::vector<failed>& done) {
    auto& st = *sp;
    announce_release_at_exit(st.mtx);
    st.holder_holds = false;
    st.holder_owner_dead = false;
    st.grant = grant_state::none;
    log_debug("async robust mutex \"{}\": abandoning an unrepaired owner-dead lock", st.mtx.name());
    if (st.stop) return; // close() joins this thread
    if (const int err = start_holder_locked(sp); err != 0) {
        // This thread stays in st.thread, for close() or the next holder to join; the next
        // request starts a holder again.
        st.holder_running = false;
        fail_queued_locked(st, errno_code(err), done);
    }
}

/// Releases a lock nobody was given: unlock, or abandon when it is unrepaired. st.m held.
/// Returns false when the thread must end (abandoned; requests failed meanwhile go to `done`).
bool release_undelivered_locked(const std::shared_ptr<robust_lock_state>& sp,
                                std::vector<failed>& done) {
    auto& st = *sp;
    if (st.holder_owner_dead) {
        abandon_locked(sp, done);
        return false;
    }
    error_code ec;
    st.mtx.unlock(ec);
    if (ec) log_debug("async robust mutex: unlock failed: {}", ec.message());
    st.holder_holds = false;
    st.grant = grant_state::none;
    return true;
}

/// Decides the queued operations whose deadline has passed as timed out (into `done`): they
/// wait behind the one the holder locks for, or behind the lock this object holds, and their
/// deadlines count all the same. Returns the earliest deadline still queued (max() if none).
/// Call with st.m held.
std::chrono::steady_clock::time_point expire_queued_locked(robust_lock_state& st,
                                                           std::vector<failed>& done) {
    const auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto it = st.queue.begin(); it != st.queue.end();) {
        const op_ptr& op = *it;
        if (!op->done && !op->dl.infinite && op->dl.when <= now) {
            op->done = true;
            done.push_back(failed{op, timed_out()});
            it = st.queue.erase(it);
            continue;
        }
        if (!op->done && !op->dl.infinite) next = std::min(next, op->dl.when);
        ++it;
    }
    return next;
}

void post_failed(std::vector<failed>& done) {
    for (auto& f : done) post_completion(std::move(f.op), f.ec, {}, false);
    done.clear();
}

/// The holder's loop; returns when the thread must end, with st.m released and, when it
/// abandoned a lock without a successor, the requests that failed for it in `done`.
void serve(const std::shared_ptr<robust_lock_state>& sp, std::vector<failed>& done) {
    auto& st = *sp;
    bool spun = false;
    std::unique_lock lk(st.m);
    for (;;) {
        while (!st.commands.empty()) {
            const command c = st.commands.front();
            st.commands.pop_front();
            if (!st.holder_holds) continue; // nothing to act on (cannot happen through the API)
            error_code ec;
            switch (c) {
            case command::unlock:
                st.mtx.unlock(ec);
                st.holder_holds = false;
                st.holder_owner_dead = false;
                st.grant = grant_state::none;
                break;
            case command::consistent:
                st.mtx.consistent(ec);
                if (!ec) st.holder_owner_dead = false;
                break;
            case command::drop:
                if (!release_undelivered_locked(sp, done)) return;
                break;
            }
            if (ec) log_debug("async robust mutex: {} failed: {}", int(c), ec.message());
        }
        if (st.stop) {
            if (st.holder_holds) {
                if (st.grant == grant_state::delivered) {
                    // close() never unlocks the user's lock: this thread ends holding it, so the
                    // next locker sees owner_dead, as if the holding process had died.
                    log_debug("async robust mutex \"{}\" closed while held", st.mtx.name());
                    announce_release_at_exit(st.mtx);
                } else if (!st.holder_owner_dead) {
                    error_code ec;
                    st.mtx.unlock(ec);
                } else {
                    announce_release_at_exit(st.mtx); // abandoned: stays owner-dead
                }
                st.holder_holds = false;
            }
            return;
        }
        // Behind a lock this object holds, nothing queued can be tried: their deadlines run out
        // here. Otherwise the front gets its try (a zero timeout is a single try) below.
        const auto queued_deadline = st.holder_holds ? expire_queued_locked(st, done)
                                                     : std::chrono::steady_clock::time_point::max();
        if (!done.empty()) {
            lk.unlock();
            post_failed(done);
            lk.lock();
            continue;
        }
        if (st.holder_holds || st.queue.empty()) {
            if (!spun) {
                spun = true;
                const unsigned seen = st.work_seq.load(std::memory_order_relaxed);
                lk.unlock();
                const auto until = std::chrono::steady_clock::now() + spin_budget;
                while (st.work_seq.load(std::memory_order_acquire) == seen &&
                       std::chrono::steady_clock::now() < until)
                    ::sched_yield();
                lk.lock();
                if (st.work_seq.load(std::memory_order_relaxed) != seen) spun = false;
                continue;
            }
            spun = false;
            st.holder_sleeping = true;
            if (queued_deadline == std::chrono::steady_clock::time_point::max())
                st.cv.wait(lk);
            else
                st.cv.wait_until(lk, queued_deadline);
            st.holder_sleeping = false;
            continue;
        }
        op_ptr op = std::move(st.queue.front());
        st.queue.pop_front();
        if (op->done) continue;
        st.active = op;
        auto behind_deadline = expire_queued_locked(st, done); // those queued behind it
        lk.unlock();
        post_failed(done);
        error_code ec;
        bool locked = false;
        bool expired = false;
        for (;;) {
            auto until = std::min(std::chrono::steady_clock::now() + robust_lock_holder::slice,
                                  behind_deadline);
            bool last = false;
            if (!op->dl.infinite && op->dl.when <= until) {
                until = op->dl.when;
                last = true;
            }
            locked = st.mtx.try_lock_until(until, ec);
            if (locked || ec) break;
            if (last) {
                expired = true;
                break;
            }
            {
                std::lock_guard g(st.m);
                if (op->done || st.stop) break;
                behind_deadline = expire_queued_locked(st, done);
            }
            post_failed(done);
        }
        lk.lock();
        st.active.reset();
        const bool owner_dead = locked && ec == errc::owner_dead;
        if (locked) {
            st.holder_holds = true;
            st.holder_owner_dead = owner_dead;
        }
        if (op->done || (st.stop && !locked)) {
            // Cancelled (or closing) meanwhile: its completion is already posted, or close()
            // posts it. A lock taken for it goes back at once.
            if (locked && !release_undelivered_locked(sp, done)) return;
            if (!op->done) {
                op->done = true;
                done.push_back(failed{std::move(op), asio::error::operation_aborted});
            }
        } else if (locked) {
            op->done = true;
            st.grant = grant_state::pending;
            lk.unlock();
            // Owner death is in the result, not in ec: the lock is held, and use_awaitable or
            // use_future would turn a non-empty ec into an exception that leaks it.
            post_completion(std::move(op), {},
                            owner_dead ? lock_result::owner_dead : lock_result::acquired, true);
            lk.lock();
            continue;
        } else {
            op->done = true;
            done.push_back(failed{std::move(op), expired ? timed_out() : ec});
        }
        if (!done.empty()) {
            lk.unlock();
            post_failed(done);
            lk.lock();
        }
    }
}

void run_holder(const std::shared_ptr<robust_lock_state>& sp) {
    std::vector<failed> done;
    serve(sp, done);
    post_failed(done);
}

/// Marks every operation not yet decided (the queued ones and the one the holder is locking
/// for) as done and moves it to `aborted`, to be completed with operation_aborted once the
/// state's mutex is released. Call with the state's mutex held.
void take_undecided(robust_lock_state& st, std::vector<op_ptr>& aborted) {
    for (auto& op : st.queue) {
        op->done = true;
        aborted.push_back(std::move(op));
    }
    st.queue.clear();
    // The op the holder is locking for: decided here, the holder gives up within a slice.
    if (st.active && !st.active->done) {
        st.active->done = true;
        aborted.push_back(st.active);
    }
}

/// In a child forked since `st` was last used, forgets what belongs to the parent: its holder
/// thread (never joined here), the lock that thread holds or handed out (released by nobody in
/// this process: the parent still owns it), the commands for it, and the copies of the pending
/// operations (into `aborted`). Call first thing with st.m held.
void forget_parent_locked(robust_lock_state& st, std::vector<op_ptr>& aborted) {
    if (!inherited(st)) return;
    st.forks.store(forks_seen(), std::memory_order_relaxed);
    // If the parent's holder was asleep on cv, the copy still counts it as a waiter, and glibc's
    // condition variable would wait for that waiter forever: a later notify blocks in the switch
    // of waiter groups (seen as a close() that never returned). Nobody in this process waits on
    // it yet, so a fresh one takes its storage (the copy's destructor would wait as well).
    ::new (static_cast<void*>(&st.cv)) std::condition_variable();
    take_undecided(st, aborted);
    st.active.reset();
    st.commands.clear();
    st.thread = helper_thread{};
    st.holder_running = false;
    st.holder_sleeping = false;
    st.holder_holds = false;
    st.holder_owner_dead = false;
    // A pending grant's completion may still run here: it finds no grant and reports
    // operation_aborted instead of handing out the parent's lock.
    st.grant = grant_state::none;
    st.grant_inline = false;
    st.inline_owner_dead = false;
    st.owns.store(false);
    st.inconsistent.store(false);
    log_debug("async robust mutex \"{}\": forked; the parent's holder thread and lock are not "
              "this process's",
              st.mtx.name());
}

} // namespace

robust_lock_holder::robust_lock_holder(robust_mutex&& m)
    : st_(std::make_shared<robust_lock_state>(std::move(m))) {
    watch_forks();
    st_->forks.store(forks_seen(), std::memory_order_relaxed);
}

robust_lock_holder::~robust_lock_holder() {
    close();
}

void robust_lock_holder::async_lock(asio::any_io_executor io_ex, handler_type handler, deadline dl,
                                    bool on_calling_thread) {
    auto op = std::make_shared<robust_lock_op>();
    op->st = st_;
    op->io_work = asio::prefer(io_ex, asio::execution::outstanding_work.tracked);
    op->dl = dl;
    // swap, not move assignment: Boost 1.81's any_completion_handler::operator=(&&) recurses.
    op->handler.swap(handler);
    op->slot = asio::get_associated_cancellation_slot(op->handler);
    if (op->slot.is_connected()) op->slot.template emplace<cancel_handler>(cancel_handler{op});
    bool closed = false;
    bool granted = false;
    lock_result result = lock_result::acquired;
    std::vector<failed> no_holder;
    std::vector<op_ptr> parent_ops;
    {
        std::lock_guard lk(st_->m);
        auto& st = *st_;
        forget_parent_locked(st, parent_ops);
        if (st.stop) {
            closed = true;
            op->done = true;
        } else if (on_calling_thread && st.grant == grant_state::none && !st.holder_holds &&
                   st.queue.empty() && !st.active && st.commands.empty()) {
            // The fast path: nothing of this object is queued or held, so a lock taken here
            // keeps the first-come, first-served order. One try, never a wait (an expired
            // clocklock; the mutex is not held by this object, so no already_owner unless
            // another object of this thread holds it, which the holder then waits for).
            error_code ec;
            if (st.mtx.try_lock(ec)) {
                granted = true;
                result = ec == errc::owner_dead ? lock_result::owner_dead : lock_result::acquired;
                op->done = true;
                st.grant = grant_state::pending;
                st.grant_inline = true;
                st.inline_owner_dead = result == lock_result::owner_dead;
                st.inline_owner = std::this_thread::get_id();
            }
        }
        if (!closed && !granted) {
            st.queue.push_back(op);
            if (st.holder_running) {
                wake_holder_locked(st);
            } else if (const int err = start_holder_locked(st_); err != 0) {
                // Nobody would serve it: it fails (posted below), and the next request tries
                // to start a holder again.
                fail_queued_locked(st, errno_code(err), no_holder);
            }
        }
    }
    for (auto& p : parent_ops)
        post_completion(std::move(p), asio::error::operation_aborted, {}, false);
    post_failed(no_holder);
    if (closed) post_completion(std::move(op), asio::error::operation_aborted, {}, false);
    // Posted, never run here: the handler does not run inside the initiating call.
    if (granted) post_completion(std::move(op), {}, result, true);
}

void robust_lock_holder::unlock(error_code& ec) {
    std::lock_guard lk(st_->m);
    if (st_->grant != grant_state::delivered || !st_->owns.load() || inherited(*st_)) {
        ec = make_error_code(errc::not_owner);
        return;
    }
    if (st_->grant_inline) {
        // Taken on the calling thread: only that thread can release it, at once, inline.
        if (st_->inline_owner != std::this_thread::get_id()) {
            ec = make_error_code(errc::not_owner);
            return;
        }
        st_->mtx.unlock(ec);
        if (ec) return; // not released: still owned
        st_->owns.store(false);
        st_->inconsistent.store(false);
        st_->grant = grant_state::none;
        st_->grant_inline = false;
        st_->inline_owner_dead = false;
        // Queued requests: the holder already waits in clocklock and gets the lock now; if
        // it sleeps (nothing queued), there is nothing to do.
        return;
    }
    ec = {};
    st_->owns.store(false);
    st_->inconsistent.store(false);
    st_->grant = grant_state::none;
    st_->commands.push_back(command::unlock);
    wake_holder_locked(*st_);
}

void robust_lock_holder::consistent(error_code& ec) {
    std::lock_guard lk(st_->m);
    if (st_->grant != grant_state::delivered || !st_->inconsistent.load() || inherited(*st_)) {
        ec = make_error_code(errc::not_owner);
        return;
    }
    if (st_->grant_inline) {
        if (st_->inline_owner != std::this_thread::get_id()) {
            ec = make_error_code(errc::not_owner);
            return;
        }
        st_->mtx.consistent(ec);
        if (ec) return;
        st_->inline_owner_dead = false;
        st_->inconsistent.store(false);
        return;
    }
    ec = {};
    st_->inconsistent.store(false);
    st_->commands.push_back(command::consistent);
    wake_holder_locked(*st_);
}

void robust_lock_holder::cancel() {
    std::vector<op_ptr> aborted;
    {
        std::lock_guard lk(st_->m);
        forget_parent_locked(*st_, aborted);
        take_undecided(*st_, aborted);
    }
    for (auto& op : aborted)
        post_completion(std::move(op), asio::error::operation_aborted, {}, false);
}

void robust_lock_holder::close() noexcept {
    if (!st_) return;
    std::vector<op_ptr> aborted;
    helper_thread t;
    {
        std::lock_guard lk(st_->m);
        forget_parent_locked(*st_, aborted); // then there is no thread of ours to join
        st_->stop = true;
        take_undecided(*st_, aborted);
        if (st_->grant == grant_state::pending) st_->grant = grant_state::revoked;
        st_->owns.store(false);
        st_->inconsistent.store(false);
        t = std::exchange(st_->thread, helper_thread{});
        st_->holder_running = false;
        st_->work_seq.fetch_add(1, std::memory_order_release); // ends a spin at once
        st_->cv.notify_one();
    }
    for (auto& op : aborted)
        post_completion(std::move(op), asio::error::operation_aborted, {}, false);
    join(t);
}

bool robust_lock_holder::owns_lock() const noexcept {
    return st_->owns.load() && !inherited(*st_);
}
bool robust_lock_holder::inconsistent() const noexcept {
    return st_->inconsistent.load() && !inherited(*st_);
}
const robust_mutex& robust_lock_holder::core() const noexcept {
    return st_->mtx;
}
bool robust_lock_holder::has_thread() const noexcept {
    std::lock_guard lk(st_->m);
    return st_->holder_running && !inherited(*st_);
}

} // namespace pipc::detail
