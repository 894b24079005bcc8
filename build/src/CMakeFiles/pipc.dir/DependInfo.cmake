
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/error.cpp" "src/CMakeFiles/pipc.dir/error.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/error.cpp.o.d"
  "/work/main/src/limits.cpp" "src/CMakeFiles/pipc.dir/limits.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/limits.cpp.o.d"
  "/work/main/src/log.cpp" "src/CMakeFiles/pipc.dir/log.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/log.cpp.o.d"
  "/work/main/src/mapping.cpp" "src/CMakeFiles/pipc.dir/mapping.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/mapping.cpp.o.d"
  "/work/main/src/message_queue.cpp" "src/CMakeFiles/pipc.dir/message_queue.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/message_queue.cpp.o.d"
  "/work/main/src/name.cpp" "src/CMakeFiles/pipc.dir/name.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/name.cpp.o.d"
  "/work/main/src/semaphore.cpp" "src/CMakeFiles/pipc.dir/semaphore.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/semaphore.cpp.o.d"
  "/work/main/src/shared_memory.cpp" "src/CMakeFiles/pipc.dir/shared_memory.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/shared_memory.cpp.o.d"
  "/work/main/src/sys.cpp" "src/CMakeFiles/pipc.dir/sys.cpp.o" "gcc" "src/CMakeFiles/pipc.dir/sys.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
