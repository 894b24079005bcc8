// pipc/asio/detail/immediate_completion.hpp - resuming a suspended coroutine directly when an
// operation is complete at once.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>

namespace pipc::detail {

// Asio 1.81 (Boost 1.81) requires that a completion handler never runs inside the initiating
// function, so an operation that completes at once is posted, and every post costs a scheduler
// pass, which includes an extra epoll_wait when the reactor task is queued ahead of it. Boost
// 1.82 answers this with associated immediate executors; 1.81 has none.
//
// For `use_awaitable` the rule is already met without a post: async_result<use_awaitable_t>
// runs the initiation only after the coroutine has suspended, from the awaitable thread's pump,
// on the coroutine's executor, and nothing of the caller is on the stack but that pump. Calling
// the handler there resumes the coroutine exactly as a posted completion would, minus the trip
// through the scheduler. The remaining hazard is recursion (the resumed coroutine may start
// another operation that also completes at once), so at most max_direct_resumptions are nested
// on one thread; the next one is posted, which also keeps a flood from starving other handlers.
// Every other handler type (callbacks, deferred, use_future, parallel groups) is posted.

/// True for handlers whose call resumes a coroutine that has suspended on the operation.
template <class Handler>
struct resumes_suspended_coroutine : std::false_type {};

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
template <class Executor, class... Args>
struct resumes_suspended_coroutine<boost::asio::detail::awaitable_handler<Executor, Args...>>
    : std::true_type {};
#endif

template <class Handler>
struct resumes_suspended_coroutine<boost::asio::detail::as_tuple_handler<Handler>>
    : resumes_suspended_coroutine<Handler> {};

template <class Handler>
struct resumes_suspended_coroutine<boost::asio::detail::redirect_error_handler<Handler>>
    : resumes_suspended_coroutine<Handler> {};

inline constexpr int max_direct_resumptions = 16;

inline int& direct_resumption_depth() noexcept {
    thread_local int depth = 0;
    return depth;
}

/// Whether `handler` may be called now, inside the initiation (see above).
template <class Handler>
bool may_resume_directly() noexcept {
    if constexpr (resumes_suspended_coroutine<std::decay_t<Handler>>::value)
        return direct_resumption_depth() < max_direct_resumptions;
    else
        return false;
}

/// Calls `handler(args...)` now; only after may_resume_directly<Handler>() said yes.
template <class Handler, class... Args>
void resume_directly(Handler& handler, Args&&... args) {
    int& depth = direct_resumption_depth();
    ++depth;
    struct unwind {
        int& d;
        ~unwind() { --d; }
    } guard{depth};
    std::move(handler)(std::forward<Args>(args)...);
}

} // namespace pipc::detail
