# SPDX-License-Identifier: MIT
# Packages (CPack): a .deb with the host, its system-wide host manifests and what Debian asks for.
# Build it with `cpack -G DEB` in a build directory; tests/installer checks it with lintian and dpkg.
include_guard(GLOBAL)
include(GNUInstallDirs)

option(SMIME_HOST_INSTALL_SYSTEM_MANIFESTS
       "Install the browsers' system-wide host manifests (in /etc and /usr/lib/mozilla) with the host" ON)

# The browser extension and the Thunderbird add-on: extension/CMakeLists.txt (a later issue) builds
# the packages (a .zip for the Chromium family, .xpi files for Firefox and Thunderbird) and appends
# their paths to the global property SMIME_HOST_EXTENSION_PACKAGES; they ship in
# share/smime-host/extensions, where install.sh also looks (build/release/extension/).
if(EXISTS ${PROJECT_SOURCE_DIR}/extension/CMakeLists.txt)
  add_subdirectory(${PROJECT_SOURCE_DIR}/extension ${PROJECT_BINARY_DIR}/extension)
endif()
get_property(smime_extension_packages GLOBAL PROPERTY SMIME_HOST_EXTENSION_PACKAGES)
if(smime_extension_packages)
  install(FILES ${smime_extension_packages} DESTINATION ${CMAKE_INSTALL_DATADIR}/smime-host/extensions)
endif()

# System-wide host manifests, written at install time so `path` follows the install prefix
# (/usr in the .deb). Brave and Vivaldi read Chrome's folder.
set(SMIME_HOST_SYSTEM_MANIFEST_DIRS_CHROMIUM
    /etc/chromium/native-messaging-hosts /etc/opt/chrome/native-messaging-hosts /etc/opt/edge/native-messaging-hosts)
set(SMIME_HOST_SYSTEM_MANIFEST_DIRS_MOZILLA /usr/lib/mozilla/native-messaging-hosts)
file(READ ${PROJECT_SOURCE_DIR}/extension/ids.json smime_ids_json)
string(JSON smime_chromium_id GET "${smime_ids_json}" chromium_id)
string(JSON smime_firefox_id GET "${smime_ids_json}" firefox_id)
string(JSON smime_thunderbird_id GET "${smime_ids_json}" thunderbird_id)
if(SMIME_HOST_INSTALL_SYSTEM_MANIFESTS)
  foreach(family CHROMIUM MOZILLA)
    string(TOLOWER ${family} template)
    install(CODE "
      file(READ \"${PROJECT_SOURCE_DIR}/manifests/${template}.json.in\" text)
      string(REPLACE @HOST_PATH@ \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/smime-host\" text \"\${text}\")
      string(REPLACE @CHROMIUM_ID@ ${smime_chromium_id} text \"\${text}\")
      string(REPLACE @FIREFOX_ID@ ${smime_firefox_id} text \"\${text}\")
      string(REPLACE @THUNDERBIRD_ID@ ${smime_thunderbird_id} text \"\${text}\")
      foreach(dir ${SMIME_HOST_SYSTEM_MANIFEST_DIRS_${family}})
        message(STATUS \"Installing: \$ENV{DESTDIR}\${dir}/org.smimehost.native.json\")
        file(WRITE \"\$ENV{DESTDIR}\${dir}/org.smimehost.native.json\" \"\${text}\")
      endforeach()")
  endforeach()
endif()

# What Debian policy asks of every package: copyright, changelog (compressed without a
# timestamp), a manual page.
set(smime_pkg_dir ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${smime_pkg_dir})
find_program(SMIME_GZIP gzip)
if(SMIME_GZIP)
  foreach(doc changelog smime-host.1)
    add_custom_command(OUTPUT ${smime_pkg_dir}/${doc}.gz
                       COMMAND ${SMIME_GZIP} -9nc ${PROJECT_SOURCE_DIR}/packaging/${doc} > ${smime_pkg_dir}/${doc}.gz
                       DEPENDS ${PROJECT_SOURCE_DIR}/packaging/${doc} VERBATIM)
  endforeach()
  add_custom_target(smime_package_docs ALL DEPENDS ${smime_pkg_dir}/changelog.gz ${smime_pkg_dir}/smime-host.1.gz)
  install(FILES ${smime_pkg_dir}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
  install(FILES ${smime_pkg_dir}/smime-host.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME smime-host)

# The /etc manifests are configuration files: dpkg keeps local edits and --purge removes them.
if(SMIME_HOST_INSTALL_SYSTEM_MANIFESTS)
  set(smime_conffiles "")
  foreach(dir ${SMIME_HOST_SYSTEM_MANIFEST_DIRS_CHROMIUM})
    string(APPEND smime_conffiles "${dir}/org.smimehost.native.json\n")
  endforeach()
  file(WRITE ${smime_pkg_dir}/conffiles "${smime_conffiles}")
  set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${smime_pkg_dir}/conffiles)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME smime-host)
set(CPACK_PACKAGE_VENDOR "The smime-host authors")
set(CPACK_PACKAGE_CONTACT "smime-host maintainers <maintainers@smimehost.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://smimehost.org/")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "S/MIME native messaging host for Thunderbird and webmail")
# CPack puts the summary first and indents these lines itself.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "smime-host signs, verifies, encrypts and decrypts S/MIME mail for the
smime-host Thunderbird add-on and browser extension, with private keys kept
in a key store on this machine. It is started by Thunderbird, Firefox,
Chromium, Google Chrome, Microsoft Edge, Brave or Vivaldi through the host
manifests this package installs system-wide.")
include(CPack)
