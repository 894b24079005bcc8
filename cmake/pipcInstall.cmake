include(CMakePackageConfigHelpers)

install(TARGETS pipc EXPORT pipcTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/pipc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(PIPC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pipc)
install(EXPORT pipcTargets NAMESPACE pipc:: DESTINATION ${PIPC_CMAKE_DIR})
# The build tree exports the same namespaced targets, so FetchContent users see pipc::pipc too.
export(EXPORT pipcTargets NAMESPACE pipc:: FILE ${PROJECT_BINARY_DIR}/pipcTargets.cmake)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pipcConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/pipcConfig.cmake
                              INSTALL_DESTINATION ${PIPC_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pipcConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pipcConfig.cmake ${PROJECT_BINARY_DIR}/pipcConfigVersion.cmake
        DESTINATION ${PIPC_CMAKE_DIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/pipc.pc.in ${PROJECT_BINARY_DIR}/pipc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pipc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
