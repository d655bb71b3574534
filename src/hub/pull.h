// `sobre pull`: downloads one GGUF file of a hub repository into the model store and registers
// it. The bytes go to STORE/models/OWNER/NAME/FILE.part (kept across failures, so the next pull
// resumes with a Range request); the finished part is hashed, compared with the sha256 the hub
// publishes for it, and only then renamed into place and recorded in the index. A mismatch
// deletes the part.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "hub/hub.h"
#include "registry/store.h"

namespace sobre::hub {

struct PullOptions {
    HubConfig hub;
    std::string name;  // registry name; empty: the file name without ".gguf"
    int attempts = 4;  // transfers tried, each resuming where the last one broke off
    std::chrono::milliseconds retry_delay{2000};
    // Called as bytes arrive with (bytes on disk, file size).
    std::function<void(uint64_t, uint64_t)> progress;
    // Called with a line about what happens (which file, resuming, retrying, verifying).
    std::function<void(const std::string&)> note;
};

struct PullResult {
    registry::Entry entry;
    bool downloaded = false;   // false: the store already held this file
    uint64_t resumed_from = 0;  // bytes found in the part file when the pull began
};

// Pulls `spec` ("OWNER/NAME[:QUANT]"). Throws Error: kInvalidArgument for a bad spec, name or
// config, or a name taken by another model; the kinds of list_files / pick_gguf / download;
// kUnsupported when the hub publishes no sha256 for the file (it would go unverified);
// kCorrupt when the download's sha256 or size differs from the hub's (the part is deleted).
PullResult pull(registry::Store& store, std::string_view spec, const PullOptions& options);

}  // namespace sobre::hub
