// The page's files (web/index.html, app.js, style.css), embedded into the binary at build time by
// cmake/embed_files.cmake: the clinic works offline and serves nothing from disk.
#pragma once

#include <string_view>

namespace leukocrypt::clinic {

struct Asset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The asset at `path`, or nullptr.
const Asset* find_asset(std::string_view path);

}  // namespace leukocrypt::clinic
