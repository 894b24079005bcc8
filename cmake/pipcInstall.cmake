# SPDX-License-Identifier: BSL-1.0
include(CMakePackageConfigHelpers)

# Components: "dev" (library, headers, CMake and pkg-config files, license) and "tool" (the pipc
# CLI); the Debian packages are cut along them (see cmake/pipcPackage.cmake).
install(TARGETS pipc EXPORT pipcTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
                NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/pipc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)

set(PIPC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pipc)
install(EXPORT pipcTargets NAMESPACE pipc:: DESTINATION ${PIPC_CMAKE_DIR} COMPONENT dev)
# The build tree exports the same namespaced targets, so FetchContent users see pipc::pipc too.
export(EXPORT pipcTargets NAMESPACE pipc:: FILE ${PROJECT_BINARY_DIR}/pipcTargets.cmake)

# A static libpipc still needs spdlog (a private dependency) at the consumer's link step.
get_target_property(_pipc_type pipc TYPE)
if(_pipc_type STREQUAL "SHARED_LIBRARY")
  set(PIPC_CONFIG_SHARED TRUE)
  set(PIPC_PC_REQUIRES_PRIVATE "")
else()
  set(PIPC_CONFIG_SHARED FALSE)
  set(PIPC_PC_REQUIRES_PRIVATE "Requires.private: spdlog")
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pipcConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/pipcConfig.cmake
                              INSTALL_DESTINATION ${PIPC_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pipcConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pipcConfig.cmake ${PROJECT_BINARY_DIR}/pipcConfigVersion.cmake
        DESTINATION ${PIPC_CMAKE_DIR} COMPONENT dev)

file(RELATIVE_PATH PIPC_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${PROJECT_SOURCE_DIR}/cmake/pipc.pc.in ${PROJECT_BINARY_DIR}/pipc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pipc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)
include(${CMAKE_CURRENT_LIST_DIR}/pipcPackage.cmake)
