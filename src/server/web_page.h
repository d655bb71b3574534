// The chat page served at / (web/index.html, embedded at build time: no files to find at run
// time, no CDN).
#pragma once

#include <string>

namespace sobre::server {

const std::string& web_page();

}  // namespace sobre::server
