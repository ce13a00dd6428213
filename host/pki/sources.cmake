# SPDX-License-Identifier: MIT
# Certificate handling: descriptions for people, path validation for signers.
target_sources(smime_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cert_info.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chain.cpp
  ${CMAKE_CURRENT_LIST_DIR}/system_anchors.cpp
)
