# SPDX-License-Identifier: MIT
# The key store unit.
target_sources(smime_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/database.cpp
  ${CMAKE_CURRENT_LIST_DIR}/schema.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sealing.cpp
  ${CMAKE_CURRENT_LIST_DIR}/certificate_info.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pkcs12.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stored.cpp
  ${CMAKE_CURRENT_LIST_DIR}/keystore.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unlocking.cpp
  ${CMAKE_CURRENT_LIST_DIR}/identities.cpp
  ${CMAKE_CURRENT_LIST_DIR}/certificates.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trust.cpp
)
