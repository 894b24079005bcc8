// The helper-thread pool behind basic_async_semaphore. See semaphore_waiter_service.hpp for the
// contract; this file is about who may touch what when.
//
// Locking: one mutex per service guards the op lists, the helpers' state and the ready list.
// Nothing that can run user code (handler destruction, posting a completion) happens under it,
// because a destroyed coroutine frame may destroy an I/O object that calls back into us.
// The state's destructor never takes the lock, so dropping a state reference under it is fine.

#include <pipc/asio/semaphore_waiter_service.hpp>

#include "common.hpp"
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

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
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
    std::thread thread;
    ::pid_t pid = 0; ///< The process that started the thread (a forked child has no such thread).
    std::condition_variable cv;
    std::shared_ptr<async_semaphore_state> current;
    bool sleeping = false; ///< Inside sem_clockwait on current (or about to take the lock after).
    bool exited = false;
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

void give_back(::sem_t* sem) {
    if (sys().sem_post(sem) != 0)
        log_debug("semaphore_waiter_service: giving back a unit failed: errno {}", errno);
}

const error_code& timed_out() {
    static const error_code ec(ETIMEDOUT, boost::system::system_category());
    return ec;
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
        const asio::any_io_executor ex = op->io_work;
        asio::post(ex, completion(op, ec));
    }
    done.clear();
}

semaphore_waiter_service::semaphore_waiter_service(asio::execution_context& ctx)
    : asio::execution_context::service(ctx) {}

semaphore_waiter_service::~semaphore_waiter_service() {
    stop_workers(true);
}

void semaphore_waiter_service::configure(const config& c) {
    std::lock_guard lk(mutex_);
    config_ = c;
    config_.slice = std::max(config_.slice, std::chrono::milliseconds(1));
    config_.max_threads = std::max<std::size_t>(config_.max_threads, 1);
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
        assign_worker_locked(state, to_wake);
    }
    for (auto* w : to_wake) w->cv.notify_one();
    for (auto& w : to_join) w->thread.join();
}

void semaphore_waiter_service::assign_worker_locked(
    const std::shared_ptr<async_semaphore_state>& state, std::vector<semaphore_worker*>& to_wake) {
    if (state->worker || state->in_ready) return; // a helper is on it (no hand-off needed)
    if (!stopping_) {
        if (!idle_.empty()) {
            semaphore_worker* w = idle_.back();
            idle_.pop_back();
            w->current = state;
            state->worker = w;
            to_wake.push_back(w);
            return;
        }
        const auto live = static_cast<std::size_t>(std::count_if(
            workers_.begin(), workers_.end(), [](const auto& w) { return !w->exited; }));
        if (live < config_.max_threads) {
            auto w = std::make_unique<semaphore_worker>();
            w->current = state;
            w->pid = ::getpid();
            state->worker = w.get();
            try {
                auto* raw = w.get();
                w->thread = std::thread([this, raw] { run_worker(raw); });
                workers_.push_back(std::move(w));
                return;
            } catch (const std::system_error& e) {
                state->worker = nullptr;
                detail::log_debug("semaphore_waiter_service: cannot start a helper: {}", e.what());
            }
        }
    }
    state->in_ready = true;
    ready_.push_back(state);
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
            if (delivered && config_.linger.count() > 0) {
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
    }
    post_all(done);
}

void semaphore_waiter_service::stop_workers(bool for_shutdown) {
    std::vector<std::unique_ptr<semaphore_worker>> all;
    {
        std::lock_guard lk(mutex_);
        stopping_ = true;
        if (for_shutdown) shut_down_ = true;
        for (auto& w : workers_) w->cv.notify_one();
        all = std::move(workers_);
        workers_.clear();
    }
    const ::pid_t self = ::getpid();
    for (auto& w : all) {
        if (w->pid != self) {
            // A child forked without notify_fork: the thread does not exist here. Joining would
            // hang and destroying a joinable std::thread would terminate, so let it go.
            (void)w.release();
            continue;
        }
        if (w->thread.joinable()) w->thread.join();
    }
    std::lock_guard lk(mutex_);
    idle_.clear();
}

void semaphore_waiter_service::restart_workers_locked(std::vector<semaphore_worker*>& to_wake) {
    std::deque<std::shared_ptr<async_semaphore_state>> waiting;
    waiting.swap(ready_);
    for (auto& st : waiting) {
        st->in_ready = false;
        assign_worker_locked(st, to_wake);
    }
}

void semaphore_waiter_service::notify_fork(asio::execution_context::fork_event event) {
    if (event == asio::execution_context::fork_prepare) {
        stop_workers(false); // the queues stay; every helper is joined (up to one slice)
        return;
    }
    std::vector<semaphore_worker*> to_wake;
    {
        std::lock_guard lk(mutex_);
        if (shut_down_) return;
        stopping_ = false;
        restart_workers_locked(to_wake);
    }
    for (auto* w : to_wake) w->cv.notify_one();
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
