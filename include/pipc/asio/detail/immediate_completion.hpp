// SPDX-License-Identifier: BSL-1.0
// pipc/asio/detail/immediate_completion.hpp - resuming a suspended coroutine directly when an
// operation is complete at once.
#pragma once

#include <pipc/asio/detail/mq_config.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#if defined(PIPC_ASIO_HAS_IMMEDIATE_EXECUTOR)
#include <boost/asio/associated_immediate_executor.hpp>
#include <boost/asio/dispatch.hpp>
#endif

#include <boost/asio/associated_executor.hpp>

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace pipc::detail {

// Asio 1.81 (Boost 1.81) requires that a completion handler never runs inside the initiating
// function, so an operation that completes at once is posted, and every post costs a scheduler
// pass, which includes an extra epoll_wait when the reactor task is queued ahead of it. Boost
// 1.82 answers this with associated immediate executors; 1.81 has none.
//
// For a `use_awaitable` token the rule is already met without a post: async_result<use_awaitable_t>
// runs the initiation only after the coroutine has suspended, from the awaitable thread's pump,
// on the coroutine's executor, and nothing of the caller is on the stack but that pump. Calling
// the handler there resumes the coroutine as `dispatch` to its executor would, minus the trip
// through the scheduler. Two conditions keep that true:
// - The token given to the initiating function must be use_awaitable itself (or under as_tuple or
//   redirect_error, whose wrappers do nothing after forwarding). A handler made elsewhere and
//   passed in as the token (a user's own async_initiate forwarding it) may come from any thread,
//   and its forwarder may still touch its own state, which the resumed coroutine can destroy;
//   such handlers are posted.
// - The resumed coroutine may start another operation that also completes at once. That
//   resumption does not nest: it is stored and run by the first one (a trampoline) once the
//   stack has unwound to it, so the stack stays flat. Only a resumption on the trampoline's own
//   executor is stored: one on another executor (another strand, run inline by a strand's
//   dispatch) still nests, inside that executor's handler. At most max_direct_resumptions run
//   in a row on one thread; the next one is posted, which keeps a flood from starving other
//   handlers.
// Every other token (callbacks, use_future, parallel groups; deferred: below) goes through
// complete_immediately() below.
//
// Against Boost >= 1.82's convention. There an operation that completes at once dispatches its
// handler to the handler's associated immediate executor; without an association that is the I/O
// executor with blocking.never, i.e. a post. pipc does exactly that for every handler
// (complete_immediately), with one deliberate exception: a plain `use_awaitable` token (also
// under as_tuple/redirect_error) still resumes directly. Asio's awaitable handler carries no
// immediate executor, so Asio itself would post; the direct resumption is indistinguishable for
// the coroutine (it is suspended, on its own executor, with only the awaitable pump on the stack)
// and saves the scheduler pass. A coroutine that binds an immediate executor
// (`bind_immediate_executor(ex, use_awaitable)`) is no longer a plain use_awaitable token and
// gets the convention exactly: a dispatch to `ex`.
//
// One consequence, shared with Asio's own `co_await dispatch(use_awaitable)`: a coroutine started
// by co_spawn from its executor's own thread that finishes without ever waiting has its
// completion handler dispatched, not posted.
//
// `co_await op(deferred)` (and `co_await op()` where deferred is the default token, Boost >=
// 1.87) reaches the initiation as a deferred operation invoked with Asio's awaitable_async_op
// handler. Usually that happens from the suspended coroutine's pump, as above, but not
// necessarily: a user's own initiation that received that handler may invoke a deferred
// operation with it, and may still touch the coroutine's state afterwards. So such a handler is
// never called inside the initiation. It is stored for the thread's running trampoline on the
// same executor, which runs it after the initiation (and everything above it) returned, as it
// does the nested resumptions above. Without one (or at the bound) it is posted, as Asio would,
// and runs as a trampoline: the coroutine's next operations that complete at once run from
// it. So a coroutine awaiting deferred operations pays one scheduler pass per 64 operations that
// complete at once, not one per operation. `co_await op(as_tuple(deferred))` is the same: the
// handler the initiation receives is Asio's as_tuple wrapper of co_await's, which only packs the
// arguments into a tuple. A deferred operation invoked with any other handler (a callback, a
// parallel group) completes by complete_immediately().

/// True for completion tokens whose async_result runs the initiation from the suspended
/// coroutine.
template <class Token>
struct initiates_from_suspended_coroutine : std::false_type {};

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
template <class Executor>
struct initiates_from_suspended_coroutine<boost::asio::use_awaitable_t<Executor>> : std::true_type {
};
#endif

template <class Token>
struct initiates_from_suspended_coroutine<boost::asio::as_tuple_t<Token>>
    : initiates_from_suspended_coroutine<Token> {};

template <class Token>
struct initiates_from_suspended_coroutine<boost::asio::redirect_error_t<Token>>
    : initiates_from_suspended_coroutine<Token> {};

/// True for `deferred` and for as_tuple(deferred), whose handler only forwards.
template <class Token>
struct is_deferred_token : std::is_same<Token, boost::asio::deferred_t> {};

template <class Token>
struct is_deferred_token<boost::asio::as_tuple_t<Token>> : is_deferred_token<Token> {};

/// How an operation that is over inside its initiation may hand its result to the coroutine
/// awaiting it.
enum class direct_resumption : unsigned char {
    never, ///< complete_immediately(): the handler's immediate executor, or a post.
    now,   ///< use_awaitable: resumed inside the initiation, from the thread's trampoline.
    after, ///< co_await of a deferred operation: after the initiation returned (see above).
};

/// What a completion token allows. `after` still depends on the handler the deferred operation
/// is invoked with: see resumption_for.
template <class Token>
inline constexpr direct_resumption direct_resumption_token =
    initiates_from_suspended_coroutine<std::decay_t<Token>>::value ? direct_resumption::now
    : is_deferred_token<std::decay_t<Token>>::value                ? direct_resumption::after
                                                                   : direct_resumption::never;

/// True for the handler that `co_await` of an asynchronous operation (a deferred one) passes.
template <class Handler>
struct awaits_deferred_operation : std::false_type {};

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
// Two template parameters up to Boost 1.89; 1.90 adds a third, defaulted one (void).
template <class Signature, class Executor>
struct awaits_deferred_operation<
    boost::asio::detail::awaitable_async_op_handler<Signature, Executor>> : std::true_type {};
#endif

template <class Handler>
struct awaits_deferred_operation<boost::asio::detail::as_tuple_handler<Handler>>
    : awaits_deferred_operation<Handler> {};

/// What an initiation given a `TokenKind` token may do with `Handler`.
template <direct_resumption TokenKind, class Handler>
inline constexpr direct_resumption resumption_for =
    TokenKind != direct_resumption::after                     ? TokenKind
    : awaits_deferred_operation<std::decay_t<Handler>>::value ? direct_resumption::after
                                                              : direct_resumption::never;

inline constexpr int max_direct_resumptions = 64;

/// Room for one deferred resumption: the handler (Asio's awaitable_handler, a pointer, or a
/// wrapper of it) and its completion arguments. A larger one is resumed nested instead.
inline constexpr std::size_t deferred_resumption_capacity = 128;

/// Whether a stored resumption (handler and arguments) fits the thread's slot.
/// (clang-tidy 14 judges the expression by one instantiation and calls it redundant.)
template <class Call>
// NOLINTNEXTLINE(misc-redundant-expression)
inline constexpr bool fits_deferred_slot = sizeof(Call) <= deferred_resumption_capacity &&
                                           alignof(Call) <= alignof(std::max_align_t);

/// A thread's direct resumptions. The first one runs as a trampoline: a resumption that would
/// nest inside it (the resumed coroutine started another operation that completed at once) is
/// stored instead and run by the trampoline once the current one has unwound, so the stack does
/// not grow with each operation, and every deferred handler runs after its initiating function
/// returned. `run` counts the resumptions since the trampoline began, for the fairness bound.
struct direct_resumptions {
    int depth = 0;
    int run = 0;
    /// The trampoline's executor: the outermost resumption's, a local of its run_resumption,
    /// and a tag of its type (executors are compared only with executors of their own type).
    const void* executor = nullptr;
    const void* executor_type = nullptr;
    void (*deferred)(void*, bool call) = nullptr;
    alignas(std::max_align_t) unsigned char storage[deferred_resumption_capacity];
};

inline direct_resumptions& direct_resumption_state() noexcept {
    thread_local direct_resumptions state;
    return state;
}

/// Whether resume_directly<Kind> takes the handler (see above). `Kind`: resumption_for the
/// token the initiating function was given and the handler it got. `now`: the handler is Asio's
/// awaitable_handler (or as_tuple/redirect_error's wrapper of it), resumed now unless the bound
/// is reached. `after`: always (stored, or posted to start a trampoline).
template <direct_resumption Kind>
bool may_resume_directly() noexcept {
    if constexpr (Kind == direct_resumption::now) {
        const auto& state = direct_resumption_state();
        return state.run < max_direct_resumptions && state.deferred == nullptr;
    } else {
        return Kind == direct_resumption::after;
    }
}

/// One address per executor type.
template <class Executor>
inline constexpr char executor_type_tag = 0;

/// Whether `handler` resumes on the running trampoline's executor. A resumption is deferred to
/// that trampoline only: on another executor (another strand of the same io_context, run inline
/// by a strand's dispatch; another io_context run inside a handler) the trampoline would run it
/// after that executor's own handler returned, outside it.
template <class Handler>
bool on_trampoline_executor(const direct_resumptions& state, const Handler& handler) {
    const auto ex = boost::asio::get_associated_executor(handler);
    using executor_type = std::decay_t<decltype(ex)>;
    if constexpr (requires(const executor_type& a, const executor_type& b) { a == b; }) {
        return state.executor_type == &executor_type_tag<executor_type> &&
               *static_cast<const executor_type*>(state.executor) == ex;
    } else {
        return false;
    }
}

/// Stores `handler(args...)` for the thread's running trampoline (see direct_resumptions),
/// which calls it once the current resumption has unwound. Only while one runs, on the
/// handler's own executor, and its slot is free.
template <class Handler, class... Args>
bool defer_to_trampoline(direct_resumptions& state, Handler& handler, Args&&... args) {
    using call_type = std::tuple<std::decay_t<Handler>, std::decay_t<Args>...>;
    if constexpr (fits_deferred_slot<call_type>) {
        if (state.depth > 0 && state.deferred == nullptr &&
            on_trampoline_executor(state, handler)) {
            ::new (static_cast<void*>(state.storage))
                call_type(std::move(handler), std::forward<Args>(args)...);
            state.deferred = [](void* p, bool call) {
                auto* stored = static_cast<call_type*>(p);
                call_type local(std::move(*stored));
                stored->~call_type();
                if (call)
                    std::apply([](auto& h, auto&... a) { std::move(h)(std::move(a)...); }, local);
            };
            ++state.run;
            return true;
        }
    }
    return false;
}

/// Calls `handler(args...)` now as a trampoline (or nested in one of another executor), then
/// the resumptions stored meanwhile.
template <class Handler, class... Args>
void run_resumption(direct_resumptions& state, Handler& handler, Args&&... args) {
    const auto ex = boost::asio::get_associated_executor(handler);
    ++state.run;
    if (state.depth == 0) {
        state.executor = &ex;
        state.executor_type = &executor_type_tag<std::decay_t<decltype(ex)>>;
    }
    ++state.depth;
    struct unwind {
        direct_resumptions& s;
        ~unwind() {
            if (--s.depth > 0) return;
            s.run = 0;
            s.executor = nullptr;
            s.executor_type = nullptr;
            // Only an exception leaves a deferred resumption behind (nothing runs between
            // storing it and returning to the trampoline): drop it, as a destroyed io_context
            // drops its handlers (the coroutine is destroyed).
            if (s.deferred != nullptr) std::exchange(s.deferred, nullptr)(s.storage, false);
        }
    } guard{state};
    std::move(handler)(std::forward<Args>(args)...);
    if (state.depth == 1)
        while (state.deferred != nullptr)
            std::exchange(state.deferred, nullptr)(state.storage, true);
}

/// A posted resumption that starts a trampoline when it runs.
template <class Call>
struct trampoline_start {
    Call call;
    void operator()() {
        // The arguments move on: a view or a loan cannot be copied.
        std::apply(
            [](auto& h, auto&... a) {
                run_resumption(direct_resumption_state(), h, std::move(a)...);
            },
            call);
    }
};

/// Hands `handler(args...)` to the coroutine's resumption as `Kind` says; only after
/// may_resume_directly<Kind>() said yes.
/// - `now`: called now (inside the initiation, which runs from the suspended coroutine's pump),
///   or, inside another direct resumption on the same executor, right after it unwinds.
/// - `after`: never inside the initiation: stored for the thread's running trampoline on the
///   same executor, or posted to `io_ex` (on the handler's associated executor) to start one.
template <direct_resumption Kind, class IoExecutor, class Handler, class... Args>
void resume_directly(const IoExecutor& io_ex, Handler& handler, Args&&... args) {
    auto& state = direct_resumption_state();
    if constexpr (Kind == direct_resumption::after) {
        if (state.run < max_direct_resumptions &&
            defer_to_trampoline(state, handler, std::forward<Args>(args)...))
            return;
        auto ex = boost::asio::get_associated_executor(handler, io_ex);
        using call_type = std::tuple<std::decay_t<Handler>, std::decay_t<Args>...>;
        boost::asio::post(
            io_ex, boost::asio::bind_executor(
                       std::move(ex), trampoline_start<call_type>{call_type(
                                          std::move(handler), std::forward<Args>(args)...)}));
    } else if constexpr (Kind == direct_resumption::now) {
        if (defer_to_trampoline(state, handler, std::forward<Args>(args)...)) return;
        run_resumption(state, handler, std::forward<Args>(args)...);
    }
    // `never`: instantiated behind a run-time may_resume_directly<never>(), which is false.
}

/// Completes an operation that finished inside its initiating function, as Asio's own
/// descriptors do. `bound` is the handler with its arguments bound (Asio's detail::bind_handler
/// or move_binder2, which forward the handler's associations). On Boost >= 1.82 it is dispatched
/// to the handler's associated immediate executor (by default the I/O executor with
/// blocking.never: a post); before, it is posted to `io_ex`. Either way it then runs on the
/// handler's associated executor.
template <class IoExecutor, class BoundHandler>
void complete_immediately(const IoExecutor& io_ex, BoundHandler&& bound) {
#if defined(PIPC_ASIO_HAS_IMMEDIATE_EXECUTOR)
    const auto immediate_ex = boost::asio::get_associated_immediate_executor(bound, io_ex);
    boost::asio::dispatch(immediate_ex, std::forward<BoundHandler>(bound));
#else
    boost::asio::post(io_ex, std::forward<BoundHandler>(bound));
#endif
}

} // namespace pipc::detail
