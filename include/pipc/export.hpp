// SPDX-License-Identifier: BSL-1.0
// pipc/export.hpp - marks the declarations that form libpipc's binary interface.
#pragma once

/// Gives a declaration default visibility. libpipc is compiled with `-fvisibility=hidden` and
/// `-fvisibility-inlines-hidden`, so a shared libpipc exports exactly what carries this mark: the
/// public classes and free functions, nothing from its implementation. The mark is the same for
/// the static library, where it only keeps a shared object that links libpipc statically from
/// re-exporting it by accident.
#if defined(__GNUC__) || defined(__clang__)
#define PIPC_API __attribute__((visibility("default")))
#else
#define PIPC_API
#endif
