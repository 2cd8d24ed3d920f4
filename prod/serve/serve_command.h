// `chatscale serve --config FILE [--port P]`: runs the production service (ChatServer) until SIGINT or
// SIGTERM, then drains gracefully (a second signal stops at once). Prints `listening on HOST:PORT`
// on stdout (flushed) once the port is bound, and notices (storage, backends; never secrets or
// message contents) on stderr.
// Exit codes: 0 after a clean stop, 1 when the service cannot start (port in use, Redis unreachable),
// 2 for bad arguments or a bad configuration ("file:line: field: problem").
// Thread-safety: call once per process (it installs the process's signal handling).
#pragma once

#include <string>
#include <vector>

namespace chatscale::serve {

int serve_command(const std::vector<std::string>& args);

}  // namespace chatscale::serve
