# Warnings for sobre's own targets (not for third-party headers).
function(sobre_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wno-unused-parameter)
  if(SOBRE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
