#include "prod/runtime/task.h"

namespace chatscale {
namespace task_detail {
namespace {

thread_local TaskState* t_current = nullptr;

}  // namespace

TaskState* current_state() { return t_current; }
void set_current_state(TaskState* state) { t_current = state; }

}  // namespace task_detail

const TaskContext* current_task() {
  const TaskContext* state = task_detail::current_state();
  return state == nullptr || state->yield == nullptr ? nullptr : state;
}

}  // namespace chatscale
