// SPDX-License-Identifier: BSL-1.0
// posix_ipc - a drop-in replacement for Python's posix_ipc 1.3.2, built on the pipc core.
//
// Everything the OS is asked goes through pipc; this file only translates between posix_ipc's
// Python API and pipc's (arguments, defaults, exception classes and their texts). The four calls a
// program makes per message (Semaphore.acquire/release, MessageQueue.send/receive) are plain
// METH_FASTCALL functions added to the pybind11 classes: pybind11's generic dispatcher costs more
// than the system calls themselves, and posix_ipc's C implementation sets the bar.
//
// Threading: every Python-visible field is read and written with the GIL held. A blocking wait
// copies the shared_ptr to the pipc object before releasing the GIL, so a close() (or garbage
// collection) from another thread only drops this object's reference; the OS handle is closed when
// the last waiter has returned, never under a thread still using it.
#include <pipc/pipc.hpp>

#include <pybind11/pybind11.h>

#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace py = pybind11;
using pipc::error_code;

namespace {

// ---- exceptions -------------------------------------------------------------------------------

PyObject* Error = nullptr;
PyObject* SignalError = nullptr;
PyObject* PermissionsError = nullptr;
PyObject* ExistentialError = nullptr;
PyObject* BusyError = nullptr;

long queue_priority_max = 32767; // MQ_PRIO_MAX - 1, read at import

enum class kind { semaphore, shared_memory, message_queue };
enum class op { open, acquire, release, send, receive, unlink, attribute, close, notify, resize };

constexpr const char* invalid_params = "Invalid parameter(s)";
constexpr const char* timeout_type_error = "The timeout must be None or a non-negative number";
constexpr const char* closed_semaphore = "The semaphore has been closed";
constexpr const char* not_open_for_writing =
    "The message queue does not exist or is not open for writing";
constexpr const char* not_open_for_reading =
    "The message queue does not exist or is not open for reading";

std::nullptr_t set(PyObject* type, const char* message) {
    PyErr_SetString(type, message);
    return nullptr;
}

std::nullptr_t set_os_error(int e) {
    errno = e;
    PyErr_SetFromErrno(PyExc_OSError);
    return nullptr;
}

const char* already_exists(kind k) {
    switch (k) {
    case kind::semaphore:
        return "A semaphore with the specified name already exists";
    case kind::shared_memory:
        return "Shared memory with the specified name already exists";
    case kind::message_queue:
        break;
    }
    return "A queue with the specified name already exists";
}

const char* does_not_exist(kind k) {
    switch (k) {
    case kind::semaphore:
        return "No semaphore exists with the specified name";
    case kind::shared_memory:
        return "No shared memory exists with the specified name";
    case kind::message_queue:
        break;
    }
    return "No queue exists with the specified name";
}

// What posix_ipc says about a handle that is gone (EBADF/EINVAL on an I/O call, or closed).
std::nullptr_t set_gone(kind k, op o) {
    switch (k) {
    case kind::semaphore:
        return set(ExistentialError, "The semaphore does not exist");
    case kind::shared_memory:
        return set(ExistentialError, "The segment does not exist");
    case kind::message_queue:
        break;
    }
    if (o == op::send) return set(ExistentialError, not_open_for_writing);
    if (o == op::receive) return set(ExistentialError, not_open_for_reading);
    return set(ExistentialError, "The queue does not exist");
}

std::nullptr_t set_busy(kind k, op o) {
    if (k == kind::semaphore) return set(BusyError, "Semaphore is busy");
    if (o == op::send) return set(BusyError, "The queue is full");
    if (o == op::receive) return set(BusyError, "The queue is empty");
    return set(BusyError, "The queue is already delivering notifications elsewhere");
}

// posix_ipc's errno -> exception table (reference §4a), extended to pipc's own error codes.
// Always returns nullptr with a Python exception set.
std::nullptr_t set_error(kind k, op o, const error_code& ec) {
    if (ec.category() == pipc::pipc_category()) {
        using pipc::errc;
        switch (static_cast<errc>(ec.value())) {
        case errc::closed:
            if (k == kind::semaphore) return set(ExistentialError, closed_semaphore);
            return set_gone(k, o);
        case errc::invalid_name:
            // No object can have a malformed name, so unlinking one finds nothing.
            if (o == op::unlink) return set(ExistentialError, does_not_exist(k));
            return set(PyExc_ValueError, invalid_params);
        case errc::name_too_long:
            return set(PyExc_ValueError, "The name is too long");
        case errc::invalid_release_count:
            return set_os_error(EOVERFLOW);
        case errc::invalid_priority:
            return set(PyExc_ValueError, "The priority must be a positive number no greater than "
                                         "QUEUE_PRIORITY_MAX");
        case errc::invalid_timeout:
            return set(PyExc_TypeError, timeout_type_error);
        case errc::invalid_size:
            return set(PyExc_ValueError, "The size is invalid or the memory is read-only");
        case errc::invalid_signal:
            return set_os_error(EINVAL);
        case errc::message_too_long:
        case errc::buffer_too_small:
            return set(PyExc_ValueError, "The message is too long");
        case errc::not_readable:
            return set(PermissionsError, "The queue is not open for reading");
        case errc::not_writable:
            return set(PermissionsError, "The queue is not open for writing");
        case errc::read_only:
        case errc::truncate_needs_write:
            return set(PermissionsError, o == op::open
                                             ? "No permission to access/truncate this segment"
                                             : "The memory is read-only");
        case errc::queues_max_reached:
            return set(PyExc_OSError, "Insufficient space for a new queue");
        case errc::rlimit_msgqueue_exceeded:
            return set(PyExc_OSError, ec.message().c_str());
        case errc::no_space:
            return set_os_error(ENOSPC);
        case errc::name_generation_failed:
            return set(ExistentialError, already_exists(k));
        case errc::damaged_semaphore:
            return set(ExistentialError, ec.message().c_str());
        case errc::invalid_permissions:
        case errc::invalid_initial_value:
        case errc::invalid_max_messages:
        case errc::invalid_max_message_size:
        case errc::msg_max_exceeded:
        case errc::msgsize_max_exceeded:
        case errc::invalid_access:
        case errc::invalid_open_mode:
            return set(PyExc_ValueError, invalid_params);
        case errc::mapping_out_of_range:
        case errc::empty_segment:
        case errc::owner_dead: // robust-mutex codes: posix_ipc has no robust mutex
        case errc::not_recoverable:
        case errc::already_owner:
        case errc::not_owner:
        case errc::invalid_slot_count: // channel codes: posix_ipc has no channel
        case errc::invalid_channel_mode:
        case errc::not_a_channel:
        case errc::channel_version_mismatch:
        case errc::slot_count_mismatch:
        case errc::message_size_mismatch:
        case errc::channel_mode_mismatch:
        case errc::view_outstanding:
        case errc::consumer_busy:
        case errc::not_a_robust_mutex:
            break;
        }
        return set(Error, ec.message().c_str());
    }
    if (ec.category() != boost::system::system_category() &&
        ec.category() != boost::system::generic_category())
        return set(Error, ec.message().c_str());
    const int e = ec.value();
    switch (e) {
    case EACCES:
    case EPERM:
        if (o == op::open && k == kind::shared_memory)
            return set(PermissionsError, "No permission to access/truncate this segment");
        if (o == op::unlink && k == kind::semaphore)
            return set(PermissionsError, "Denied permission to unlink this semaphore");
        if (o == op::resize) return set(PermissionsError, "The memory is read-only");
        return set(PermissionsError, "Permission denied");
    case EEXIST:
        if (o == op::open) return set(ExistentialError, already_exists(k));
        break;
    case ENOENT:
        if (o == op::open || o == op::unlink) return set(ExistentialError, does_not_exist(k));
        break;
    case EINVAL:
        if (o == op::open) return set(PyExc_ValueError, invalid_params);
        if (o == op::resize)
            return set(PyExc_ValueError, "The size is invalid or the memory is read-only");
        if (o == op::unlink) {
            if (k == kind::shared_memory) break;
            return set(ExistentialError, does_not_exist(k));
        }
        if (o == op::notify) break;
        return set_gone(k, o);
    case EBADF:
        if (o == op::notify) break;
        if (o != op::open && o != op::unlink) return set_gone(k, o);
        break;
    case EAGAIN:
    case ETIMEDOUT:
        return set_busy(k, o);
    case EBUSY:
        if (o == op::notify) return set_busy(k, o);
        break;
    case EINTR:
        return set(SignalError, "The wait was interrupted by a signal");
    case EMSGSIZE:
        return set(PyExc_ValueError, "The message is too long");
    case ENAMETOOLONG:
        return set(PyExc_ValueError, "The name is too long");
    case EMFILE:
        return set(PyExc_OSError, "This process already has the maximum number of files open");
    case ENFILE:
        return set(PyExc_OSError,
                   "The system limit on the total number of open files has been reached");
    case ENOSPC:
        if (o == op::open && k == kind::message_queue)
            return set(PyExc_OSError, "Insufficient space for a new queue");
        break;
    case ENOMEM:
        return set(PyExc_MemoryError, "Not enough memory");
    case EFBIG:
        return set(PyExc_ValueError, "The size is too large");
    case EROFS:
        return set(PermissionsError, "The memory is read-only");
    default:
        break;
    }
    return set_os_error(e);
}

[[noreturn]] void raise_error(kind k, op o, const error_code& ec) {
    set_error(k, o, ec);
    throw py::error_already_set();
}

[[noreturn]] void raise(PyObject* type, const char* message) {
    PyErr_SetString(type, message);
    throw py::error_already_set();
}

// ---- argument conversion ----------------------------------------------------------------------

struct parsed_name {
    bool generated = false; ///< None: pipc picks an unused name.
    std::string bytes;      ///< What the OS sees (filesystem encoding).
};

parsed_name parse_name(py::handle name) {
    parsed_name out;
    if (name.is_none()) {
        out.generated = true;
    } else if (PyUnicode_Check(name.ptr())) {
        py::object encoded =
            py::reinterpret_steal<py::object>(PyUnicode_EncodeFSDefault(name.ptr()));
        if (!encoded) throw py::error_already_set();
        out.bytes.assign(PyBytes_AS_STRING(encoded.ptr()),
                         static_cast<std::size_t>(PyBytes_GET_SIZE(encoded.ptr())));
    } else if (PyBytes_Check(name.ptr())) {
        out.bytes.assign(PyBytes_AS_STRING(name.ptr()),
                         static_cast<std::size_t>(PyBytes_GET_SIZE(name.ptr())));
    } else {
        raise(PyExc_TypeError, "Name must be None or a string");
    }
    return out;
}

py::object name_to_str(const std::string& bytes) {
    PyObject* s =
        PyUnicode_DecodeFSDefaultAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size()));
    if (!s) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(s);
}

// The `name` attribute: None only for an object whose __init__ never ran.
py::object name_attr(const std::string& bytes) {
    return bytes.empty() ? py::none() : name_to_str(bytes);
}
py::object name_str(const std::string& bytes) {
    return bytes.empty() ? py::str("(no name)") : name_to_str(bytes);
}

// posix_ipc's flags: 0, O_CREAT, O_CREAT|O_EXCL (+ O_TRUNC / O_NONBLOCK where they mean something).
pipc::open_mode parse_flags(long flags, bool generated) {
    const bool creat = (flags & O_CREAT) != 0;
    const bool excl = (flags & O_EXCL) != 0;
    if (excl && !creat) raise(PyExc_ValueError, "O_EXCL must be combined with O_CREAT");
    if (generated && !excl) raise(PyExc_ValueError, "Name can only be None if O_EXCL is set");
    if (!creat) return pipc::open_mode::open_existing;
    return excl ? pipc::open_mode::create_exclusive : pipc::open_mode::open_or_create;
}

::mode_t parse_mode(long mode) {
    if (mode < 0 || mode > 07777) raise(PyExc_ValueError, invalid_params);
    return static_cast<::mode_t>(mode);
}

std::string format_mode(::mode_t mode) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(mode));
    return buf;
}

// Python string literal-ish rendering of a name for repr: posix_ipc prints it between double
// quotes.
std::string quoted(const py::object& name) {
    return "\"" + py::str(name).cast<std::string>() + "\"";
}

struct timeout_arg {
    bool infinite = true;
    double seconds = 0;
    bool is_zero() const { return !infinite && seconds == 0; }
    std::chrono::steady_clock::time_point deadline() const {
        return std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(seconds));
    }
};

// None, int (bool included) or float; negative, NaN, overflowing or other types -> TypeError.
bool parse_timeout(PyObject* o, timeout_arg& t) {
    if (o == nullptr || o == Py_None) {
        t.infinite = true;
        return true;
    }
    double v = 0;
    if (PyLong_Check(o)) {
        int overflow = 0;
        const long l = PyLong_AsLongAndOverflow(o, &overflow);
        if (overflow != 0 || l < 0) return set(PyExc_TypeError, timeout_type_error), false;
        v = static_cast<double>(l);
    } else if (PyFloat_Check(o)) {
        v = PyFloat_AS_DOUBLE(o);
        if (!(v >= 0)) return set(PyExc_TypeError, timeout_type_error), false; // also NaN
    } else {
        return set(PyExc_TypeError, timeout_type_error), false;
    }
    // Beyond ~30 years the steady clock arithmetic could overflow; nobody can tell the difference.
    t.infinite = v > 1e9;
    t.seconds = v;
    return true;
}

// Keyword/positional parsing for the METH_FASTCALL methods. `out` must have `n` slots.
bool parse_args(const char* fname, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                const char* const* names, Py_ssize_t n, Py_ssize_t required, PyObject** out) {
    for (Py_ssize_t i = 0; i < n; ++i) out[i] = nullptr;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd argument%s (%zd given)", fname, n,
                     n == 1 ? "" : "s", nargs);
        return false;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) out[i] = args[i];
    if (kwnames) {
        const Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; ++k) {
            PyObject* key = PyTuple_GET_ITEM(kwnames, k);
            Py_ssize_t slot = -1;
            for (Py_ssize_t i = 0; i < n; ++i)
                if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) slot = i;
            if (slot < 0) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                             key);
                return false;
            }
            if (out[slot]) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                             names[slot]);
                return false;
            }
            out[slot] = args[nargs + k];
        }
    }
    for (Py_ssize_t i = 0; i < required; ++i)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)", fname,
                         names[i], i + 1);
            return false;
        }
    return true;
}

// After a wait returned EINTR: run the Python signal handlers. An exception one of them raised
// (KeyboardInterrupt included) propagates; if they all returned, posix_ipc's SignalError.
std::nullptr_t interrupted() {
    if (PyErr_CheckSignals() < 0) return nullptr;
    return set(SignalError, "The wait was interrupted by a signal");
}

bool is_interrupted(const error_code& ec) {
    return ec == boost::system::errc::interrupted;
}

// The C++ object behind `self`, or nullptr if __init__ never ran (posix_ipc: "closed").
template <class T>
T* unwrap(PyObject* self) {
    auto* inst = reinterpret_cast<py::detail::instance*>(self);
    if (inst->simple_layout)
        return inst->simple_holder_constructed ? static_cast<T*>(inst->simple_value_holder[0])
                                               : nullptr;
    auto vh = inst->get_value_and_holder(py::detail::get_type_info(typeid(T)), false);
    if (!vh || !vh.holder_constructed()) return nullptr;
    return vh.template value_ptr<T>();
}

// The Python type of each wrapper, for checking `self` in the pybind11-bound methods (they take a
// handle so that an object made by __new__ alone behaves like a closed one instead of crashing).
template <class T>
PyTypeObject* wrapper_type = nullptr;

template <class T>
T& blank_wrapper() {
    static T blank; // never opened, never modified: every method sees "closed"
    return blank;
}

template <class T>
T& get(py::handle self) {
    if (!wrapper_type<T> || !PyObject_TypeCheck(self.ptr(), wrapper_type<T>)) {
        PyErr_Format(PyExc_TypeError, "descriptor requires a '%s' object",
                     wrapper_type<T> ? wrapper_type<T>->tp_name : "posix_ipc");
        throw py::error_already_set();
    }
    T* p = unwrap<T>(self.ptr());
    return p ? *p : blank_wrapper<T>();
}

void add_fast_method(py::handle cls, PyMethodDef* def) {
    PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def);
    if (!descr) throw py::error_already_set();
    const int rc = PyObject_SetAttrString(cls.ptr(), def->ml_name, descr);
    Py_DECREF(descr);
    if (rc < 0) throw py::error_already_set();
}

// Py_BEGIN/END_ALLOW_THREADS as a scope (the macros' unbalanced braces confuse clang-format).
struct without_gil {
    PyThreadState* saved = PyEval_SaveThread();
    without_gil() = default;
    without_gil(const without_gil&) = delete;
    without_gil& operator=(const without_gil&) = delete;
    ~without_gil() { PyEval_RestoreThread(saved); }
};

// Drops this wrapper's reference; closes the handle now unless a waiter in another thread still
// uses it (then its last reference closes it). Returns the close error, if any.
template <class Core>
error_code drop(std::shared_ptr<Core>& core) {
    error_code ec;
    if (core && core.use_count() == 1) core->close(ec);
    core.reset();
    return ec;
}

// ---- Semaphore --------------------------------------------------------------------------------

struct Semaphore {
    std::shared_ptr<pipc::semaphore> core; ///< Null once closed.
    std::string name;                      ///< Kept after close() so that unlink() works.
    ::mode_t mode = 0600;
};

std::unique_ptr<Semaphore> make_semaphore(py::object name, long flags, long mode,
                                          long long initial_value) {
    const auto parsed = parse_name(name);
    pipc::semaphore::options o;
    o.open = parse_flags(flags, parsed.generated);
    o.permissions = parse_mode(mode);
    // As with sem_open, a value that could not create a semaphore still opens an existing one.
    bool bad_value_for_creation = false;
    if (initial_value >= 0 && initial_value <= pipc::semaphore_value_max()) {
        o.initial_value = static_cast<unsigned>(initial_value);
    } else if (o.open == pipc::open_mode::open_or_create) {
        o.open = pipc::open_mode::open_existing;
        bad_value_for_creation = true;
    } else if (o.open == pipc::open_mode::create_exclusive) {
        raise(PyExc_ValueError, invalid_params);
    }
    o.on_signal = pipc::signal_policy::report;
    auto s = std::make_unique<Semaphore>();
    s->core = std::make_shared<pipc::semaphore>();
    error_code ec;
    if (parsed.generated)
        s->core->open(pipc::unique_name, o, ec);
    else
        s->core->open(parsed.bytes, o, ec);
    if (ec == boost::system::errc::no_such_file_or_directory && bad_value_for_creation)
        raise(PyExc_ValueError, invalid_params);
    if (ec) raise_error(kind::semaphore, op::open, ec);
    s->name = s->core->name();
    s->mode = o.permissions;
    return s;
}

PyObject* semaphore_acquire(Semaphore* s, const timeout_arg& t) {
    if (!s || !s->core) return set(ExistentialError, closed_semaphore);
    error_code ec;
    if (s->core->try_acquire(ec)) Py_RETURN_NONE; // the common case never lets go of the GIL
    if (ec) return set_error(kind::semaphore, op::acquire, ec);
    if (t.is_zero()) return set_busy(kind::semaphore, op::acquire);
    const std::shared_ptr<pipc::semaphore> core = s->core; // outlives a close() from another thread
    const auto deadline = t.deadline();
    bool acquired = false;
    {
        const without_gil nogil;
        if (t.infinite) {
            core->acquire(ec);
            acquired = !ec;
        } else {
            acquired = core->try_acquire_until(deadline, ec);
        }
    }
    if (acquired) Py_RETURN_NONE;
    if (!ec) return set_busy(kind::semaphore, op::acquire);
    if (is_interrupted(ec)) return interrupted();
    return set_error(kind::semaphore, op::acquire, ec);
}

PyObject* semaphore_acquire_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                                 PyObject* kwnames) {
    static const char* const names[] = {"timeout"};
    PyObject* a[1];
    if (!parse_args("acquire", args, nargs, kwnames, names, 1, 0, a)) return nullptr;
    timeout_arg t;
    if (!parse_timeout(a[0], t)) return nullptr;
    return semaphore_acquire(unwrap<Semaphore>(self), t);
}

PyObject* semaphore_release(Semaphore* s) {
    if (!s || !s->core) return set(ExistentialError, closed_semaphore);
    error_code ec;
    s->core->release(1, ec);
    if (ec) return set_error(kind::semaphore, op::release, ec);
    Py_RETURN_NONE;
}

PyObject* semaphore_release_fast(PyObject* self, PyObject*) {
    return semaphore_release(unwrap<Semaphore>(self));
}

PyMethodDef semaphore_acquire_def = {
    "acquire", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(semaphore_acquire_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "acquire($self, /, timeout=None)\n--\n\nWaits until the semaphore's value is positive, then "
    "decrements it. "
    "timeout None waits forever, 0 does not wait, a positive number waits at most that many "
    "seconds; BusyError when it runs out."};
PyMethodDef semaphore_release_def = {"release", semaphore_release_fast, METH_NOARGS,
                                     "release($self, /)\n--\n\nIncrements the semaphore's value."};

Semaphore& open_semaphore(Semaphore& s) {
    if (!s.core) raise(ExistentialError, closed_semaphore);
    return s;
}

// ---- SharedMemory -----------------------------------------------------------------------------

struct SharedMemory {
    pipc::shared_memory core;
    std::string name;
    ::mode_t mode = 0600;
};

std::uint64_t parse_size(py::handle size) {
    if (!PyLong_Check(size.ptr())) raise(PyExc_TypeError, "size must be an integer");
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(size.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow > 0) raise(PyExc_ValueError, "The size is too large");
    if (overflow < 0 || v < 0)
        raise(PyExc_ValueError, "The size is invalid or the memory is read-only");
    return static_cast<std::uint64_t>(v);
}

bool parse_int_flag(py::handle v, const char* what) {
    if (!PyLong_Check(v.ptr())) {
        PyErr_Format(PyExc_TypeError, "%s must be an integer or a bool", what);
        throw py::error_already_set();
    }
    const int truth = PyObject_IsTrue(v.ptr());
    if (truth < 0) throw py::error_already_set();
    return truth != 0;
}

std::unique_ptr<SharedMemory> make_shared_memory(py::object name, long flags, long mode,
                                                 py::object size_obj, py::object read_only_obj) {
    const auto parsed = parse_name(name);
    pipc::shared_memory::options o;
    o.open = parse_flags(flags, parsed.generated);
    o.permissions = parse_mode(mode);
    const std::uint64_t size = parse_size(size_obj);
    o.read_only = parse_int_flag(read_only_obj, "read_only");
    o.truncate = (flags & O_TRUNC) != 0;
    o.size = size;
    auto m = std::make_unique<SharedMemory>();
    error_code ec;
    if (parsed.generated)
        m->core.open(pipc::unique_name, o, ec);
    else
        m->core.open(parsed.bytes, o, ec);
    if (ec) raise_error(kind::shared_memory, op::open, ec);
    // posix_ipc resizes an existing segment when a size is given; pipc sizes only what it creates.
    if (size != 0 && !m->core.created()) {
        if (o.read_only) { // posix_ipc destroyed the segment here; we only refuse
            m->core.close(ec);
            raise(PyExc_ValueError, "The size is invalid or the memory is read-only");
        }
        m->core.resize(size, ec);
        if (ec) {
            error_code ignored;
            m->core.close(ignored);
            raise_error(kind::shared_memory, op::resize, ec);
        }
    }
    m->name = m->core.name();
    m->mode = o.permissions;
    return m;
}

// ---- MessageQueue -----------------------------------------------------------------------------

struct MessageQueue {
    std::shared_ptr<pipc::message_queue> core; ///< Null once closed.
    std::string name;
    ::mode_t mode = 0600;
    long max_messages = 0;
    long max_message_size = 0;
    bool read = true;
    bool write = true;
    /// O_NONBLOCK as this object last set or read it. It lets a receive or send without a timeout
    /// go straight to the kernel's blocking call (one system call, as posix_ipc makes) instead of
    /// a try, an mq_getattr and then the call. Only a change made behind this object's back, on
    /// the same open description (a forked child setting `block`), is missed until `block` is read.
    bool blocking = true;
};

long default_max_messages = 10;
long default_max_message_size = 8192;

std::unique_ptr<MessageQueue> make_message_queue(py::object name, long flags, long mode,
                                                 long max_messages, long max_message_size,
                                                 py::object read, py::object write) {
    const auto parsed = parse_name(name);
    pipc::message_queue::options o;
    o.open = parse_flags(flags, parsed.generated);
    o.permissions = parse_mode(mode);
    const int r = PyObject_IsTrue(read.ptr());
    const int w = PyObject_IsTrue(write.ptr());
    if (r < 0 || w < 0) throw py::error_already_set();
    if (!r && !w) raise(PyExc_ValueError, "At least one of read or write must be True");
    o.access = r && w ? pipc::access::read_write
               : r    ? pipc::access::read_only
                      : pipc::access::write_only;
    o.blocking = (flags & O_NONBLOCK) == 0;
    o.on_signal = pipc::signal_policy::report;
    // The sizes only matter for a creation: like mq_open, O_CREAT with invalid sizes still opens
    // an existing queue, and only fails if it would have to create one.
    bool bad_sizes_for_creation = false;
    if (o.open != pipc::open_mode::open_existing) {
        if (max_messages > 0 && max_message_size > 0) {
            o.max_messages = max_messages;
            o.max_message_size = max_message_size;
        } else if (o.open == pipc::open_mode::create_exclusive || parsed.generated) {
            raise(PyExc_ValueError, invalid_params);
        } else {
            o.open = pipc::open_mode::open_existing;
            bad_sizes_for_creation = true;
        }
    }
    auto q = std::make_unique<MessageQueue>();
    q->core = std::make_shared<pipc::message_queue>();
    error_code ec;
    if (parsed.generated)
        q->core->open(pipc::unique_name, o, ec);
    else
        q->core->open(parsed.bytes, o, ec);
    if (ec == boost::system::errc::no_such_file_or_directory && bad_sizes_for_creation)
        raise(PyExc_ValueError, invalid_params);
    if (ec) raise_error(kind::message_queue, op::open, ec);
    q->name = q->core->name();
    q->mode = o.permissions;
    q->max_messages = q->core->max_messages();
    q->max_message_size = q->core->max_message_size();
    q->read = r != 0;
    q->write = w != 0;
    q->blocking = o.blocking;
    return q;
}

// Releases a Py_buffer on every path out of send().
struct buffer_guard {
    Py_buffer view{};
    bool active = false;
    ~buffer_guard() {
        if (active) PyBuffer_Release(&view);
    }
};

PyObject* queue_send_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                          PyObject* kwnames) {
    static const char* const names[] = {"message", "timeout", "priority"};
    PyObject* a[3];
    if (!parse_args("send", args, nargs, kwnames, names, 3, 1, a)) return nullptr;
    buffer_guard buf;
    const char* data = nullptr;
    Py_ssize_t length = 0;
    if (PyUnicode_Check(a[0])) {
        data = PyUnicode_AsUTF8AndSize(a[0], &length); // cached in the str: no copy next time
        if (!data) return nullptr;
    } else {
        if (PyObject_GetBuffer(a[0], &buf.view, PyBUF_SIMPLE) < 0) return nullptr;
        buf.active = true;
        data = static_cast<const char*>(buf.view.buf);
        length = buf.view.len;
    }
    timeout_arg t;
    if (!parse_timeout(a[1], t)) return nullptr;
    long priority = 0;
    if (a[2]) {
        if (!PyLong_Check(a[2])) return set(PyExc_TypeError, "The priority must be an integer");
        int overflow = 0;
        priority = PyLong_AsLongAndOverflow(a[2], &overflow);
        if (overflow) priority = -1;
    }
    MessageQueue* q = unwrap<MessageQueue>(self);
    if (!q) return set_gone(kind::message_queue, op::send);
    if (!q->write) return set(PermissionsError, "The queue is not open for writing");
    if (!q->core) return set_gone(kind::message_queue, op::send);
    if (priority < 0 || priority > queue_priority_max) {
        PyErr_Format(
            PyExc_ValueError,
            "The priority must be a positive number no greater than QUEUE_PRIORITY_MAX (%ld)",
            queue_priority_max);
        return nullptr;
    }
    const auto bytes = std::as_bytes(std::span(data, static_cast<std::size_t>(length)));
    const auto prio = static_cast<unsigned>(priority);
    error_code ec;
    if (t.infinite && q->blocking) {
        // The kernel's own blocking send: one system call whether or not the queue has room.
        const std::shared_ptr<pipc::message_queue> core = q->core;
        {
            const without_gil nogil;
            core->send(bytes, prio, ec);
        }
        if (!ec) Py_RETURN_NONE;
        if (is_interrupted(ec)) return interrupted();
        return set_error(kind::message_queue, op::send, ec);
    }
    if (q->core->try_send(bytes, prio, ec)) Py_RETURN_NONE;
    if (ec) return set_error(kind::message_queue, op::send, ec);
    // Full. posix_ipc's non-blocking queues (block=False, O_NONBLOCK) and timeout 0 give up now.
    if (t.is_zero()) return set_busy(kind::message_queue, op::send);
    if (!q->core->blocking(ec)) {
        if (ec) return set_error(kind::message_queue, op::send, ec);
        return set_busy(kind::message_queue, op::send);
    }
    const std::shared_ptr<pipc::message_queue> core = q->core;
    const auto deadline = t.deadline();
    bool sent = false;
    {
        const without_gil nogil;
        if (t.infinite) {
            core->send(bytes, prio, ec);
            sent = !ec;
        } else {
            sent = core->send_until(bytes, deadline, prio, ec);
        }
    }
    if (sent) Py_RETURN_NONE;
    if (!ec) return set_busy(kind::message_queue, op::send);
    if (is_interrupted(ec)) return interrupted();
    return set_error(kind::message_queue, op::send, ec);
}

// One receive buffer per thread, reused: posix_ipc allocated max_message_size bytes on every call.
// Only touched by its own thread, never re-entered. Queues with huge messages get a buffer per
// call instead, so that no thread keeps megabytes forever.
constexpr std::size_t kept_buffer_max = 64 * 1024;

std::vector<std::byte>& receive_buffer(std::size_t size, std::vector<std::byte>& oversized) {
    if (size > kept_buffer_max) {
        oversized.resize(size);
        return oversized;
    }
    thread_local std::vector<std::byte> buffer;
    if (buffer.size() < size) buffer.resize(size);
    return buffer;
}

PyObject* make_received(const std::vector<std::byte>& buffer, const pipc::received& r) {
    PyObject* bytes = PyBytes_FromStringAndSize(reinterpret_cast<const char*>(buffer.data()),
                                                static_cast<Py_ssize_t>(r.size));
    if (!bytes) return nullptr;
    PyObject* prio = PyLong_FromUnsignedLong(r.priority);
    if (!prio) {
        Py_DECREF(bytes);
        return nullptr;
    }
    PyObject* tuple = PyTuple_New(2);
    if (!tuple) {
        Py_DECREF(bytes);
        Py_DECREF(prio);
        return nullptr;
    }
    PyTuple_SET_ITEM(tuple, 0, bytes);
    PyTuple_SET_ITEM(tuple, 1, prio);
    return tuple;
}

PyObject* queue_receive_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                             PyObject* kwnames) {
    static const char* const names[] = {"timeout"};
    PyObject* a[1];
    if (!parse_args("receive", args, nargs, kwnames, names, 1, 0, a)) return nullptr;
    timeout_arg t;
    if (!parse_timeout(a[0], t)) return nullptr;
    MessageQueue* q = unwrap<MessageQueue>(self);
    if (!q) return set_gone(kind::message_queue, op::receive);
    if (!q->read) return set(PermissionsError, "The queue is not open for reading");
    if (!q->core) return set_gone(kind::message_queue, op::receive);
    std::vector<std::byte> oversized;
    auto& buffer = receive_buffer(static_cast<std::size_t>(q->max_message_size), oversized);
    const std::span<std::byte> span(buffer);
    error_code ec;
    if (t.infinite && q->blocking) {
        // The kernel's own blocking receive: one system call whether or not a message is there.
        const std::shared_ptr<pipc::message_queue> core = q->core;
        pipc::received r{};
        {
            const without_gil nogil;
            r = core->receive(span, ec);
        }
        if (!ec) return make_received(buffer, r);
        if (is_interrupted(ec)) return interrupted();
        return set_error(kind::message_queue, op::receive, ec);
    }
    if (auto r = q->core->try_receive(span, ec)) return make_received(buffer, *r);
    if (ec) return set_error(kind::message_queue, op::receive, ec);
    if (t.is_zero()) return set_busy(kind::message_queue, op::receive);
    if (!q->core->blocking(ec)) {
        if (ec) return set_error(kind::message_queue, op::receive, ec);
        return set_busy(kind::message_queue, op::receive);
    }
    const std::shared_ptr<pipc::message_queue> core = q->core;
    const auto deadline = t.deadline();
    std::optional<pipc::received> got;
    {
        const without_gil nogil;
        if (t.infinite) {
            const auto r = core->receive(span, ec);
            if (!ec) got = r;
        } else {
            got = core->receive_until(span, deadline, ec);
        }
    }
    if (got) return make_received(buffer, *got);
    if (!ec) return set_busy(kind::message_queue, op::receive);
    if (is_interrupted(ec)) return interrupted();
    return set_error(kind::message_queue, op::receive, ec);
}

PyMethodDef queue_send_def = {
    "send", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(queue_send_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "send($self, /, message, timeout=None, priority=0)\n--\n\nSends a bytes-like object or a str "
    "(UTF-8). "
    "Waits while the queue is full (timeout as for receive); BusyError when it runs out."};
PyMethodDef queue_receive_def = {
    "receive", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(queue_receive_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "receive($self, /, timeout=None)\n--\n\nReturns (bytes, priority): takes the oldest message of "
    "the highest "
    "priority, waiting while the queue is empty; BusyError when the timeout runs out."};

// A Python callable and its argument, run on the notification thread glibc starts. The references
// are only touched with the GIL held; after interpreter shutdown they are deliberately leaked.
struct python_callback {
    PyObject* function;
    PyObject* parameter;
    python_callback(py::object f, py::object p)
        : function(f.release().ptr()), parameter(p.release().ptr()) {}
    python_callback(const python_callback&) = delete;
    python_callback& operator=(const python_callback&) = delete;
    static bool interpreter_alive() { return Py_IsInitialized() && !_Py_IsFinalizing(); }
    ~python_callback() {
        if (!interpreter_alive()) return;
        py::gil_scoped_acquire gil;
        Py_DECREF(function);
        Py_DECREF(parameter);
    }
    void operator()() const {
        if (!interpreter_alive()) return;
        py::gil_scoped_acquire gil;
        PyObject* result = PyObject_CallOneArg(function, parameter);
        if (result)
            Py_DECREF(result);
        else // posix_ipc swallowed it; sys.unraisablehook gets it here
            PyErr_WriteUnraisable(function);
    }
};

void queue_request_notification(py::handle self, py::object notification) {
    auto& q = get<MessageQueue>(self);
    error_code ec;
    if (notification.is_none()) {
        if (!q.core) return; // posix_ipc: cancelling on a closed queue is fine
        q.core->cancel_notification(ec);
        if (ec) raise_error(kind::message_queue, op::notify, ec);
        return;
    }
    if (PyLong_Check(notification.ptr())) {
        int overflow = 0;
        const long signo = PyLong_AsLongAndOverflow(notification.ptr(), &overflow);
        if (!q.core) {
            set_os_error(EBADF);
            throw py::error_already_set();
        }
        if (overflow || signo < 0 || signo > SIGRTMAX) {
            set_os_error(EINVAL);
            throw py::error_already_set();
        }
        q.core->request_notification(static_cast<int>(signo), ec);
        if (ec) raise_error(kind::message_queue, op::notify, ec);
        return;
    }
    if (PyTuple_Check(notification.ptr()) && PyTuple_GET_SIZE(notification.ptr()) == 2 &&
        PyCallable_Check(PyTuple_GET_ITEM(notification.ptr(), 0))) {
        if (!q.core) {
            set_os_error(EBADF);
            throw py::error_already_set();
        }
        auto cb = std::make_shared<python_callback>(
            py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(notification.ptr(), 0)),
            py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(notification.ptr(), 1)));
        q.core->request_notification(std::function<void()>([cb] { (*cb)(); }), ec);
        if (ec) raise_error(kind::message_queue, op::notify, ec);
        return;
    }
    raise(PyExc_ValueError,
          "The notification must be None, an integer, or a tuple of (function, parameter)");
}

// ---- unlink functions -------------------------------------------------------------------------

std::string unlink_arg(py::handle name) {
    if (!PyUnicode_Check(name.ptr())) {
        PyErr_Format(PyExc_TypeError, "argument 1 must be str, not %.200s",
                     Py_TYPE(name.ptr())->tp_name);
        throw py::error_already_set();
    }
    return parse_name(name).bytes;
}

} // namespace

PYBIND11_MODULE(posix_ipc, m) {
    m.doc() = "POSIX IPC (semaphores, shared memory, message queues): posix_ipc 1.3.2's API on the "
              "pipc C++ library.";

    // Exceptions: plain Exception subclasses, as in posix_ipc.
    Error = PyErr_NewExceptionWithDoc("posix_ipc.Error", "Base class of posix_ipc's exceptions.",
                                      PyExc_Exception, nullptr);
    SignalError = PyErr_NewExceptionWithDoc("posix_ipc.SignalError",
                                            "A wait was interrupted by a signal.", Error, nullptr);
    PermissionsError = PyErr_NewExceptionWithDoc(
        "posix_ipc.PermissionsError", "Not allowed by the object's mode or the handle's access.",
        Error, nullptr);
    ExistentialError = PyErr_NewExceptionWithDoc(
        "posix_ipc.ExistentialError", "The object does not exist, already exists, or is closed.",
        Error, nullptr);
    BusyError = PyErr_NewExceptionWithDoc(
        "posix_ipc.BusyError", "The operation would block or timed out.", Error, nullptr);
    if (!Error || !SignalError || !PermissionsError || !ExistentialError || !BusyError)
        throw py::error_already_set();
    m.attr("Error") = py::handle(Error);
    m.attr("SignalError") = py::handle(SignalError);
    m.attr("PermissionsError") = py::handle(PermissionsError);
    m.attr("ExistentialError") = py::handle(ExistentialError);
    m.attr("BusyError") = py::handle(BusyError);

    // Constants. posix_ipc froze the system-dependent ones at build time; these are read at import.
    const auto limits = pipc::read_mqueue_limits();
    default_max_messages = limits.msg_max.value_or(10);
    default_max_message_size = limits.msgsize_max.value_or(8192);
    queue_priority_max = pipc::message_priority_max() - 1;
    m.attr("O_CREAT") = O_CREAT;
    m.attr("O_EXCL") = O_EXCL;
    m.attr("O_CREX") = O_CREAT | O_EXCL;
    m.attr("O_TRUNC") = O_TRUNC;
    m.attr("O_RDONLY") = O_RDONLY;
    m.attr("O_WRONLY") = O_WRONLY;
    m.attr("O_RDWR") = O_RDWR;
    m.attr("O_NONBLOCK") = O_NONBLOCK;
    m.attr("PAGE_SIZE") = pipc::page_size();
    m.attr("SEMAPHORE_VALUE_MAX") = pipc::semaphore_value_max();
    m.attr("SEMAPHORE_TIMEOUT_SUPPORTED") = true;
    m.attr("SEMAPHORE_VALUE_SUPPORTED") = true;
    m.attr("MESSAGE_QUEUES_SUPPORTED") = true;
    m.attr("QUEUE_MESSAGES_MAX_DEFAULT") = default_max_messages;
    m.attr("QUEUE_MESSAGE_SIZE_MAX_DEFAULT") = default_max_message_size;
    m.attr("QUEUE_PRIORITY_MAX") = queue_priority_max;
    m.attr("USER_SIGNAL_MIN") = static_cast<int>(SIGRTMIN);
    m.attr("USER_SIGNAL_MAX") = static_cast<int>(SIGRTMAX);
    m.attr("VERSION") = "1.3.2";
    m.attr("__version__") = "1.3.2";
    m.attr("__author__") = "Philip Semanchuk";
    m.attr("__license__") = "BSD";
    m.attr("__copyright__") = "Copyright 2008 - 2025 Philip Semanchuk and contributors";
    m.attr("PIPC_VERSION") = pipc::version_string;

    // Test hook: raises what a failure `code` of operation `op` on an object of `kind` becomes, so
    // the tests can check every row of posix_ipc's errno table, including errors (ENFILE, ENOMEM,
    // ...) a test cannot provoke. category "errno" = an OS error, "pipc" = a pipc::errc value.
    m.def("_raise_mapped", [](const std::string& kind_name, const std::string& op_name, int code,
                              const std::string& category) {
        static const std::pair<const char*, kind> kinds[] = {
            {"semaphore", kind::semaphore},
            {"shared_memory", kind::shared_memory},
            {"message_queue", kind::message_queue}};
        static const std::pair<const char*, op> ops[] = {
            {"open", op::open},           {"acquire", op::acquire}, {"release", op::release},
            {"send", op::send},           {"receive", op::receive}, {"unlink", op::unlink},
            {"attribute", op::attribute}, {"close", op::close},     {"notify", op::notify},
            {"resize", op::resize}};
        const auto* k = std::find_if(std::begin(kinds), std::end(kinds),
                                     [&](const auto& e) { return kind_name == e.first; });
        const auto* o = std::find_if(std::begin(ops), std::end(ops),
                                     [&](const auto& e) { return op_name == e.first; });
        if (k == std::end(kinds) || o == std::end(ops) ||
            (category != "errno" && category != "pipc"))
            raise(PyExc_ValueError, "unknown kind, op or category");
        const error_code ec = category == "errno"
                                  ? error_code(code, boost::system::system_category())
                                  : make_error_code(static_cast<pipc::errc>(code));
        raise_error(k->second, o->second, ec);
    });

    // Module functions: positional only, str only (as posix_ipc's METH_VARARGS "s").
    m.def(
        "unlink_semaphore",
        [](py::object name) {
            error_code ec;
            pipc::unlink_semaphore(unlink_arg(name), ec);
            if (ec) raise_error(kind::semaphore, op::unlink, ec);
        },
        "unlink_semaphore(name)\n\nRemoves the semaphore's name.");
    m.def(
        "unlink_shared_memory",
        [](py::object name) {
            error_code ec;
            pipc::unlink_shared_memory(unlink_arg(name), ec);
            if (ec) raise_error(kind::shared_memory, op::unlink, ec);
        },
        "unlink_shared_memory(name)\n\nRemoves the segment's name.");
    m.def(
        "unlink_message_queue",
        [](py::object name) {
            error_code ec;
            pipc::unlink_message_queue(unlink_arg(name), ec);
            if (ec) raise_error(kind::message_queue, op::unlink, ec);
        },
        "unlink_message_queue(name)\n\nRemoves the queue's name.");

    const auto not_picklable = [](py::handle self, py::args) -> py::object {
        PyErr_Format(PyExc_TypeError, "cannot pickle '%.200s' object",
                     Py_TYPE(self.ptr())->tp_name);
        throw py::error_already_set();
    };

    // ---- Semaphore
    py::class_<Semaphore> sem(m, "Semaphore",
                              "Semaphore(name, flags=0, mode=0o600, initial_value=0)\n\n"
                              "A named POSIX semaphore.");
    wrapper_type<Semaphore> = reinterpret_cast<PyTypeObject*>(sem.ptr());
    sem.def(py::init(&make_semaphore), py::arg("name"), py::arg("flags") = 0,
            py::arg("mode") = 0600, py::arg("initial_value") = 0)
        .def(
            "close",
            [](py::handle self) {
                auto& s = get<Semaphore>(self);
                open_semaphore(s);
                if (auto ec = drop(s.core)) raise_error(kind::semaphore, op::close, ec);
            },
            "close()\n\nCloses this handle; the semaphore itself lives on until unlinked.")
        .def(
            "unlink",
            [](py::handle self) {
                auto& s = get<Semaphore>(self);
                error_code ec;
                pipc::unlink_semaphore(s.name, ec);
                if (ec) raise_error(kind::semaphore, op::unlink, ec);
            },
            "unlink()\n\nRemoves the semaphore's name (also after close()).")
        .def("__enter__",
             [](py::object self) {
                 if (!semaphore_acquire(&get<Semaphore>(self), timeout_arg{}))
                     throw py::error_already_set();
                 return self;
             })
        .def("__exit__",
             [](py::handle self, py::args) {
                 auto& s = get<Semaphore>(self);
                 if (!semaphore_release(&s)) throw py::error_already_set();
             })
        .def_property_readonly("value",
                               [](py::handle self) {
                                   auto& s = get<Semaphore>(self);
                                   error_code ec;
                                   const int v = open_semaphore(s).core->value(ec);
                                   if (ec) raise_error(kind::semaphore, op::attribute, ec);
                                   return v;
                               })
        .def_property_readonly("name",
                               [](py::handle self) { return name_attr(get<Semaphore>(self).name); })
        .def_property_readonly("mode",
                               [](py::handle self) {
                                   auto& s = get<Semaphore>(self);
                                   return static_cast<long>(s.mode);
                               })
        .def("__str__", [](py::handle self) { return name_str(get<Semaphore>(self).name); })
        .def("__repr__",
             [](py::handle self) {
                 auto& s = get<Semaphore>(self);
                 return "posix_ipc.Semaphore(" + quoted(name_str(s.name)) +
                        ", mode=" + format_mode(s.mode) + ")";
             })
        .def("__reduce_ex__", not_picklable);
    add_fast_method(sem, &semaphore_acquire_def);
    add_fast_method(sem, &semaphore_release_def);

    // ---- SharedMemory
    py::class_<SharedMemory> shm(m, "SharedMemory",
                                 "SharedMemory(name, flags=0, mode=0o600, size=0, read_only=False)"
                                 "\n\nA named POSIX shared-memory segment; map it with "
                                 "mmap.mmap(shm.fd, shm.size).");
    wrapper_type<SharedMemory> = reinterpret_cast<PyTypeObject*>(shm.ptr());
    shm.def(py::init(&make_shared_memory), py::arg("name"), py::arg("flags") = 0,
            py::arg("mode") = 0600, py::arg("size") = 0, py::arg("read_only") = false)
        .def(
            "close_fd",
            [](py::handle self) {
                auto& s = get<SharedMemory>(self);
                error_code ec;
                s.core.close(ec);
                if (ec) raise(PyExc_ValueError, "The file descriptor is invalid");
            },
            "close_fd()\n\nCloses the descriptor; existing mappings stay valid.")
        .def("fileno",
             [](py::handle self) {
                 auto& s = get<SharedMemory>(self);
                 return s.core.native_handle();
             })
        .def(
            "unlink",
            [](py::handle self) {
                auto& s = get<SharedMemory>(self);
                error_code ec;
                pipc::unlink_shared_memory(s.name, ec);
                if (ec) raise_error(kind::shared_memory, op::unlink, ec);
            },
            "unlink()\n\nRemoves the segment's name (also after close_fd()).")
        .def_property_readonly("fd",
                               [](py::handle self) {
                                   auto& s = get<SharedMemory>(self);
                                   return s.core.native_handle();
                               })
        .def_property_readonly("size",
                               [](py::handle self) {
                                   auto& s = get<SharedMemory>(self);
                                   error_code ec;
                                   const auto v = s.core.size(ec);
                                   if (ec) raise_error(kind::shared_memory, op::attribute, ec);
                                   return v;
                               })
        .def_property_readonly(
            "name", [](py::handle self) { return name_attr(get<SharedMemory>(self).name); })
        .def_property_readonly("mode",
                               [](py::handle self) {
                                   auto& s = get<SharedMemory>(self);
                                   return static_cast<long>(s.mode);
                               })
        .def("__str__", [](py::handle self) { return name_str(get<SharedMemory>(self).name); })
        .def("__repr__",
             [](py::handle self) {
                 auto& s = get<SharedMemory>(self);
                 return "posix_ipc.SharedMemory(" + quoted(name_str(s.name)) +
                        ", mode=" + format_mode(s.mode) + ")";
             })
        .def("__reduce_ex__", not_picklable);

    // ---- MessageQueue
    py::class_<MessageQueue> mq(
        m, "MessageQueue",
        "MessageQueue(name, flags=0, mode=0o600, max_messages=QUEUE_MESSAGES_"
        "MAX_DEFAULT, max_message_size=QUEUE_MESSAGE_SIZE_MAX_DEFAULT, "
        "read=True, write=True)\n\nA named POSIX message queue.");
    wrapper_type<MessageQueue> = reinterpret_cast<PyTypeObject*>(mq.ptr());
    mq.def(py::init(&make_message_queue), py::arg("name"), py::arg("flags") = 0,
           py::arg("mode") = 0600, py::arg("max_messages") = default_max_messages,
           py::arg("max_message_size") = default_max_message_size, py::arg("read") = true,
           py::arg("write") = true)
        .def("request_notification", &queue_request_notification,
             py::arg("notification") = py::none(),
             "request_notification(notification=None)\n\nNone cancels; an int asks for that "
             "signal; (function, parameter) calls function(parameter) on a new thread when the "
             "queue becomes non-empty. One-shot.")
        .def(
            "close",
            [](py::handle self) {
                auto& q = get<MessageQueue>(self);
                if (!q.core)
                    raise_error(kind::message_queue, op::close,
                                make_error_code(pipc::errc::closed));
                if (auto ec = drop(q.core)) raise_error(kind::message_queue, op::close, ec);
            },
            "close()\n\nCloses this descriptor; the queue lives on until unlinked.")
        .def(
            "unlink",
            [](py::handle self) {
                auto& q = get<MessageQueue>(self);
                error_code ec;
                pipc::unlink_message_queue(q.name, ec);
                if (ec) raise_error(kind::message_queue, op::unlink, ec);
            },
            "unlink()\n\nRemoves the queue's name (also after close()).")
        .def("fileno",
             [](py::handle self) {
                 auto& q = get<MessageQueue>(self);
                 return q.core ? q.core->native_handle() : -1;
             })
        .def_property_readonly("mqd",
                               [](py::handle self) {
                                   auto& q = get<MessageQueue>(self);
                                   return q.core ? q.core->native_handle() : -1;
                               })
        .def_property_readonly("current_messages",
                               [](py::handle self) {
                                   auto& q = get<MessageQueue>(self);
                                   if (!q.core)
                                       raise_error(kind::message_queue, op::attribute,
                                                   make_error_code(pipc::errc::closed));
                                   error_code ec;
                                   const long n = q.core->current_messages(ec);
                                   if (ec) raise_error(kind::message_queue, op::attribute, ec);
                                   return n;
                               })
        .def_property(
            "block",
            [](py::handle self) {
                auto& q = get<MessageQueue>(self);
                if (!q.core)
                    raise_error(kind::message_queue, op::attribute,
                                make_error_code(pipc::errc::closed));
                error_code ec;
                const bool b = q.core->blocking(ec);
                if (ec) raise_error(kind::message_queue, op::attribute, ec);
                q.blocking = b;
                return b;
            },
            [](py::handle self, py::object value) {
                auto& q = get<MessageQueue>(self);
                const int truth = PyObject_IsTrue(value.ptr());
                if (truth < 0) throw py::error_already_set();
                if (!q.core)
                    raise_error(kind::message_queue, op::attribute,
                                make_error_code(pipc::errc::closed));
                error_code ec;
                q.core->set_blocking(truth != 0, ec);
                if (ec) raise_error(kind::message_queue, op::attribute, ec);
                q.blocking = truth != 0;
            })
        .def_property_readonly("max_messages",
                               [](py::handle self) {
                                   auto& q = get<MessageQueue>(self);
                                   return q.max_messages;
                               })
        .def_property_readonly("max_message_size",
                               [](py::handle self) {
                                   auto& q = get<MessageQueue>(self);
                                   return q.max_message_size;
                               })
        .def_property_readonly(
            "name", [](py::handle self) { return name_attr(get<MessageQueue>(self).name); })
        .def_property_readonly("mode",
                               [](py::handle self) {
                                   auto& q = get<MessageQueue>(self);
                                   return static_cast<long>(q.mode);
                               })
        .def("__str__", [](py::handle self) { return name_str(get<MessageQueue>(self).name); })
        .def("__repr__",
             [](py::handle self) {
                 auto& q = get<MessageQueue>(self);
                 return "posix_ipc.MessageQueue(" + quoted(name_str(q.name)) +
                        ", mode=" + format_mode(q.mode) +
                        ", max_message_size=" + std::to_string(q.max_message_size) +
                        ", max_messages=" + std::to_string(q.max_messages) +
                        ", read=" + (q.read ? "True" : "False") +
                        ", write=" + (q.write ? "True" : "False") + ")";
             })
        .def("__reduce_ex__", not_picklable);
    add_fast_method(mq, &queue_send_def);
    add_fast_method(mq, &queue_receive_def);
}
