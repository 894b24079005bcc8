# SPDX-License-Identifier: BSL-1.0
# Debian packages through CPack (`cpack -G DEB` in the build directory, see docs/packaging.md):
#   libpipc-dev  headers, the static libpipc, CMake and pkg-config files, license
#   pipc         the command-line tool
# They are cut from the default static build: libpipc-dev then needs no runtime library package
# of its own and the tool carries its copy of libpipc. A BUILD_SHARED_LIBS=ON build would need a
# libpipc<soversion> runtime package and shlibs for it; it gets no DEB configuration.
get_target_property(_pipc_type pipc TYPE)
if(_pipc_type STREQUAL "SHARED_LIBRARY")
  message(STATUS "pipc: Debian packages are made from the static build; none for this shared one")
  return()
endif()

set(PIPC_PACKAGE_MAINTAINER "pipc developers" CACHE STRING "Maintainer field of the .deb files")

# Debian's copyright file, only in component installs (CPack's), not in a plain `cmake --install`.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libpipc-dev
        RENAME copyright COMPONENT dev EXCLUDE_FROM_ALL)
set(CPACK_COMPONENTS_ALL dev)
if(TARGET pipc_cli)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/pipc
          RENAME copyright COMPONENT tool EXCLUDE_FROM_ALL)
  list(APPEND CPACK_COMPONENTS_ALL tool)
endif()

set(CPACK_PACKAGE_NAME pipc)
set(CPACK_PACKAGE_VENDOR pipc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "${PIPC_PACKAGE_MAINTAINER}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)

# The headers use Boost (which must be the very Boost libpipc was built with: see pipcConfig) and
# a static libpipc needs spdlog at the consumer's link step.
string(REGEX MATCH "^[0-9]+\\.[0-9]+" _pipc_boost_mm "${Boost_VERSION}")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libpipc-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libboost${_pipc_boost_mm}-dev, libspdlog-dev, pkgconf | pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "POSIX IPC for modern C++: development files\n Named message queues, semaphores and shared\n memory with a Boost.Asio layer; headers, static library, CMake and pkg-config files.")

# The tool's shared-library dependencies (spdlog, fmt, Boost.JSON, libstdc++) come from
# dpkg-shlibdeps.
set(CPACK_DEBIAN_TOOL_PACKAGE_NAME pipc)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOL_PACKAGE_SHLIBDEPS ON)
set(CPACK_COMPONENT_TOOL_DESCRIPTION
    "POSIX IPC command-line tool\n Lists, inspects, creates, removes and benchmarks POSIX message\n queues, semaphores and shared memory.")

include(CPack)
