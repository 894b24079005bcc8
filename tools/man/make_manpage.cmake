# SPDX-License-Identifier: BSL-1.0
# Generates pipc.1 with help2man from the tool's own --help, adding every command's --help as a
# COMMANDS section. Called at build time: cmake -DPIPC=... -DHELP2MAN=... -DOUT=... -DINCLUDE=...
execute_process(COMMAND "${PIPC}" --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PIPC} --help failed")
endif()

# The command names are the first words of the lines under "Subcommands:".
function(pipc_subcommands help out)
  set(names "")
  string(FIND "${help}" "Subcommands:" at)
  if(at GREATER -1)
    string(SUBSTRING "${help}" ${at} -1 rest)
    string(REGEX MATCHALL "\n  [a-z]+ " found "${rest}")
    foreach(f IN LISTS found)
      string(STRIP "${f}" f)
      list(APPEND names ${f})
    endforeach()
  endif()
  set(${out} ${names} PARENT_SCOPE)
endfunction()

set(text "[COMMANDS]\n")
pipc_subcommands("${top}" commands)
foreach(cmd IN LISTS commands)
  execute_process(COMMAND "${PIPC}" ${cmd} --help OUTPUT_VARIABLE help)
  string(APPEND text ".SS \"pipc ${cmd}\"\n.nf\n${help}\n.fi\n")
  pipc_subcommands("${help}" subs)
  foreach(sub IN LISTS subs)
    execute_process(COMMAND "${PIPC}" ${cmd} ${sub} --help OUTPUT_VARIABLE subhelp)
    string(APPEND text ".SS \"pipc ${cmd} ${sub}\"\n.nf\n${subhelp}\n.fi\n")
  endforeach()
endforeach()
string(REPLACE "\\" "\\\\" text "${text}")
file(READ "${INCLUDE}" static)
get_filename_component(dir "${OUT}" DIRECTORY)
file(WRITE "${dir}/pipc-commands.h2m" "${static}\n${text}")
execute_process(
  COMMAND "${HELP2MAN}" --no-info --no-discard-stderr
          "--name=see, create, use and clean up POSIX message queues, semaphores and shared memory"
          --section=1 "--include=${dir}/pipc-commands.h2m" "--output=${OUT}" "${PIPC}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed")
endif()
