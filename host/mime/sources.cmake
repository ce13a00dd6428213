# SPDX-License-Identifier: MIT
# MIME handling: entity parsing, canonical form, transfer encodings.
target_sources(smime_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/canonical.cpp
  ${CMAKE_CURRENT_LIST_DIR}/encoding.cpp
  ${CMAKE_CURRENT_LIST_DIR}/entity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/addresses.cpp
  ${CMAKE_CURRENT_LIST_DIR}/header_protection.cpp
)
