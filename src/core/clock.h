// Wall-clock timestamps for records people read (audit log, model store, bench JSON).
#pragma once

#include <string>

namespace sobre {

// The current time, UTC, as 2026-01-31T12:00:00Z.
std::string utc_timestamp();

}  // namespace sobre
