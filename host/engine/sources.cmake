# SPDX-License-Identifier: MIT
# The S/MIME engine: CMS layers, signing, encryption, decryption, verification, status.
target_sources(smime_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ber.cpp
  ${CMAKE_CURRENT_LIST_DIR}/capabilities.cpp
  ${CMAKE_CURRENT_LIST_DIR}/certificate_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decrypt_enveloped.cpp
  ${CMAKE_CURRENT_LIST_DIR}/der.cpp
  ${CMAKE_CURRENT_LIST_DIR}/encrypt.cpp
  ${CMAKE_CURRENT_LIST_DIR}/open.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sign.cpp
  ${CMAKE_CURRENT_LIST_DIR}/status.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verify_signed.cpp
)
