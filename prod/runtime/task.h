// Tasks for prod: stackful coroutines (boost::asio::spawn) that know which task is running on the
// current thread, so blocking-style code (the shared service flow) can suspend its own task through
// the Clock port without being handed a yield context.
//
// spawn_task() runs each task on its own strand of an io_context, behind a TaskExecutor: a thin
// executor wrapper that marks the task as this thread's current task for the duration of every
// handler it runs (the coroutine's start and each resumption, whatever operation resumed it), and
// restores the previous value afterwards. current_task() is therefore right after any suspension:
// a timer, a socket read, a Signal.
//
// Thread-safety: current_task() reads a thread-local. A task's handlers run one at a time (strand).
// Caveat: a plain handler posted to a task's executor also runs as that task; it must not suspend.
// Failure behaviour: an exception escaping a task propagates out of io_context::run(), as with
// boost::asio::spawn; tasks are expected to turn errors into Status values themselves.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/strand.hpp>

namespace chatscale {

template <typename Inner>
class BasicTaskExecutor;
using TaskExecutor = BasicTaskExecutor<boost::asio::io_context::executor_type>;
// The strand a task runs on: give it to the I/O objects (timers, sockets) the task uses.
using TaskStrand = boost::asio::strand<TaskExecutor>;
// The yield context handed to a task (pass it to Asio/Beast operations as usual).
using TaskYield = boost::asio::basic_yield_context<boost::asio::executor_binder<void (*)(), TaskStrand>>;

// What a task's code may reach of itself. Both pointers are set while the task's function runs and
// point into the coroutine's frame.
struct TaskContext {
  const TaskYield* yield = nullptr;
  const TaskStrand* executor = nullptr;
};

namespace task_detail {

using TaskState = TaskContext;
TaskState* current_state();
void set_current_state(TaskState* state);

// Makes `state` the current task of this thread for the scope; restores the previous one after.
class ScopedCurrentTask {
 public:
  explicit ScopedCurrentTask(TaskState* state) : previous_(current_state()) { set_current_state(state); }
  ~ScopedCurrentTask() { set_current_state(previous_); }
  ScopedCurrentTask(const ScopedCurrentTask&) = delete;
  ScopedCurrentTask& operator=(const ScopedCurrentTask&) = delete;

 private:
  TaskState* previous_;
};

}  // namespace task_detail

// The task whose handler is running on this thread; nullptr outside any task (and in a task's
// handlers once its function has returned).
const TaskContext* current_task();

// An executor that forwards to `Inner` and runs every function as the given task. Properties
// (blocking, outstanding work, allocator, context ...) are forwarded to the inner executor.
template <typename Inner>
class BasicTaskExecutor {
 public:
  BasicTaskExecutor(Inner inner, std::shared_ptr<task_detail::TaskState> task)
      : inner_(std::move(inner)), task_(std::move(task)) {}

  template <typename F>
  void execute(F&& f) const {
    boost::asio::execution::execute(inner_, AsTask<std::decay_t<F>>{std::forward<F>(f), task_});
  }

  template <typename Property>
    requires boost::asio::can_query<const Inner&, Property>::value
  decltype(auto) query(const Property& p) const {
    return boost::asio::query(inner_, p);
  }

  template <typename Property>
    requires boost::asio::can_require<const Inner&, Property>::value
  auto require(const Property& p) const {
    using Next = std::decay_t<decltype(boost::asio::require(inner_, p))>;
    return BasicTaskExecutor<Next>(boost::asio::require(inner_, p), task_);
  }

  friend bool operator==(const BasicTaskExecutor& a, const BasicTaskExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.task_ == b.task_;
  }
  friend bool operator!=(const BasicTaskExecutor& a, const BasicTaskExecutor& b) noexcept {
    return !(a == b);
  }

 private:
  template <typename F>
  struct AsTask {
    F f;
    std::shared_ptr<task_detail::TaskState> task;
    void operator()() {
      task_detail::ScopedCurrentTask scope(task.get());
      f();
    }
  };

  Inner inner_;
  std::shared_ptr<task_detail::TaskState> task_;
};

inline constexpr std::size_t kDefaultTaskStackBytes = 256 * 1024;

// Starts fn(TaskYield) as a stackful coroutine on `ioc`, on a strand of its own. Returns at once;
// the task starts when `ioc` runs. `fn` is moved into the task.
template <typename Fn>
void spawn_task(boost::asio::io_context& ioc, Fn fn, std::size_t stack_bytes = kDefaultTaskStackBytes) {
  auto state = std::make_shared<task_detail::TaskState>();
  TaskStrand strand(TaskExecutor(ioc.get_executor(), state));
  // The function holds the strand (and so the state); the state points back only while it runs.
  boost::asio::spawn(
      strand,
      [state = state.get(), strand, fn = std::move(fn)](TaskYield yield) mutable {
        struct Clear {  // also on unwinding (exceptions, forced unwind of a destroyed coroutine)
          task_detail::TaskState* s;
          ~Clear() { *s = {}; }
        } clear{state};
        state->yield = &yield;
        state->executor = &strand;
        fn(yield);
      },
      boost::coroutines::attributes(stack_bytes));
}

}  // namespace chatscale
