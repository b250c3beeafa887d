# Project-wide warning set, applied per target with leukocrypt_warnings(<target>).
function(leukocrypt_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# leukocrypt_module(<name> <dir> DEPS ...): a static library from every .cpp below <dir>.
function(leukocrypt_module name dir)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS "${dir}/*.cpp")
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC "${CMAKE_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${M_DEPS})
  leukocrypt_warnings(${name})
endfunction()
