// SPDX-License-Identifier: MIT
// Unit tests for where the policy is read from: the system's file wins over the environment.
#include "policy/policy.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <random>

using namespace smime;

namespace {
std::filesystem::path temp_dir() {
    auto dir = std::filesystem::temp_directory_path() /
               ("smime-host-unit-policy-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    return dir;
}
}  // namespace

TEST_CASE("SMIME_HOST_POLICY cannot replace a system policy, only stand in where there is none") {
    const auto dir = temp_dir();
    const auto system = dir / "system.json";
    const auto user = dir / "user.json";
    { std::ofstream(user) << "{}"; }

    // No system policy: the variable supplies one (as the tests and a user's own setup do).
    CHECK(Policy::choose_location(system, user.string()) == user);
    CHECK(Policy::choose_location(system, std::nullopt) == system);

    // A system policy exists: it wins, whatever the environment says.
    { std::ofstream(system) << R"({"enabled": false})"; }
    CHECK(Policy::choose_location(system, user.string()) == system);
    CHECK(Policy::load(Policy::choose_location(system, user.string())).enabled == false);

    // Anything at the system path counts as the system's, even a link to nowhere.
    std::filesystem::remove(system);
    std::filesystem::create_symlink(dir / "missing.json", system);
    CHECK(Policy::choose_location(system, user.string()) == system);
    std::filesystem::remove_all(dir);
}

TEST_CASE("policy integers are range-checked in full, and duplicate keys are refused") {
    const auto dir = temp_dir();
    const auto file = dir / "policy.json";
    auto load = [&](const std::string& text) {
        { std::ofstream(file, std::ios::trunc) << text; }
        return Policy::load(file);
    };
    CHECK(load(R"({"min_rsa_bits": 3072})").min_rsa_bits == 3072);
    CHECK_FALSE(load(R"({"min_rsa_bits": 3072})").error);
    for (const char* bad :
         {R"({"min_rsa_bits": 4294968320})", R"({"min_rsa_bits": 18446744073709552640})",
          R"({"min_rsa_bits": 2048.5})", R"({"min_rsa_bits": 2048.0})",
          R"({"min_rsa_bits": -2048})", R"({"min_rsa_bits": 1e999})", R"({"version": 4294967297})",
          R"({"enabled": true, "enabled": false})",
          R"({"allow_key_backup": false, "allow_key_backup": true})"}) {
        CAPTURE(bad);
        const Policy p = load(bad);
        CHECK(p.in_force);
        CHECK(p.error.has_value());
    }
    CHECK(load(R"({"enabled": true, "enabled": false})").error->find("'enabled'") !=
          std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a policy path that exists but cannot be read is malformed, not absent") {
    const auto dir = temp_dir();
    CHECK_FALSE(Policy::load(dir / "absent.json").in_force);
    CHECK_FALSE(Policy::load(dir / "no-such-folder" / "policy.json").in_force);

    std::filesystem::create_directory(dir / "folder.json");
    std::filesystem::create_symlink(dir / "missing.json", dir / "dangling.json");
    std::filesystem::create_symlink(dir / "loop-b.json", dir / "loop-a.json");
    std::filesystem::create_symlink(dir / "loop-a.json", dir / "loop-b.json");
    for (const char* name : {"folder.json", "dangling.json", "loop-a.json"}) {
        CAPTURE(name);
        const Policy p = Policy::load(dir / name);
        CHECK(p.in_force);
        CHECK(p.error.has_value());
    }
    std::filesystem::remove_all(dir);
}
