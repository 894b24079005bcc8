file(REMOVE_RECURSE
  "CMakeFiles/pipc.dir/error.cpp.o"
  "CMakeFiles/pipc.dir/error.cpp.o.d"
  "CMakeFiles/pipc.dir/limits.cpp.o"
  "CMakeFiles/pipc.dir/limits.cpp.o.d"
  "CMakeFiles/pipc.dir/log.cpp.o"
  "CMakeFiles/pipc.dir/log.cpp.o.d"
  "CMakeFiles/pipc.dir/mapping.cpp.o"
  "CMakeFiles/pipc.dir/mapping.cpp.o.d"
  "CMakeFiles/pipc.dir/message_queue.cpp.o"
  "CMakeFiles/pipc.dir/message_queue.cpp.o.d"
  "CMakeFiles/pipc.dir/name.cpp.o"
  "CMakeFiles/pipc.dir/name.cpp.o.d"
  "CMakeFiles/pipc.dir/semaphore.cpp.o"
  "CMakeFiles/pipc.dir/semaphore.cpp.o.d"
  "CMakeFiles/pipc.dir/shared_memory.cpp.o"
  "CMakeFiles/pipc.dir/shared_memory.cpp.o.d"
  "CMakeFiles/pipc.dir/sys.cpp.o"
  "CMakeFiles/pipc.dir/sys.cpp.o.d"
  "libpipc.a"
  "libpipc.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/pipc.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
