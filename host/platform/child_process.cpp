// SPDX-License-Identifier: MIT
// Child processes on pipes: posix_spawn on Linux and macOS, CreateProcess on Windows.
#include "platform/child_process.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

#include "util/error.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif
extern char** environ;
#endif

namespace smime::platform {

#ifndef _WIN32

std::filesystem::path executable_path() {
#ifdef __APPLE__
    char buffer[PATH_MAX];
    std::uint32_t size = sizeof buffer;
    if (_NSGetExecutablePath(buffer, &size) != 0)
        throw Error(Code::Internal, "cannot find the running executable");
    return std::filesystem::canonical(buffer);
#else
    return std::filesystem::read_symlink("/proc/self/exe");
#endif
}

struct ChildProcess::Handles {
    pid_t pid = -1;
    int to_child = -1;    // the child's stdin
    int from_child = -1;  // the child's stdout
    std::optional<int> status;
};

namespace {

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

// A pipe whose ends are not inherited by the child except where posix_spawn dup2s them.
void make_pipe(int fds[2]) {
    if (::pipe(fds) != 0) throw Error(Code::Internal, "cannot create a pipe");
    for (int i = 0; i < 2; ++i) ::fcntl(fds[i], F_SETFD, FD_CLOEXEC);
}

}  // namespace

ChildProcess::ChildProcess(const std::filesystem::path& program,
                           const std::vector<std::string>& args, const Environment& overrides)
    : handles_(std::make_unique<Handles>()) {
    int in[2], out[2];
    make_pipe(in);
    try {
        make_pipe(out);
    } catch (...) {
        ::close(in[0]);
        ::close(in[1]);
        throw;
    }

    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry = *e;
        bool overridden = false;
        for (const auto& [name, value] : overrides)
            overridden =
                overridden || (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
                               entry[name.size()] == '=');
        if (!overridden) env_strings.emplace_back(entry);
    }
    for (const auto& [name, value] : overrides) env_strings.push_back(name + "=" + value);

    std::vector<std::string> argv_strings{program.string()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        throw Error(Code::Internal, "cannot start " + program.string());
    }
    handles_->pid = pid;
    handles_->to_child = in[1];
    handles_->from_child = out[0];
}

ChildProcess::~ChildProcess() {
    close_fd(handles_->to_child);
    close_fd(handles_->from_child);
    if (handles_->pid > 0 && !handles_->status) {
        if (!wait(0)) {
            ::kill(handles_->pid, SIGKILL);
            int status = 0;
            ::waitpid(handles_->pid, &status, 0);
        }
    }
}

bool ChildProcess::write_all(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(handles_->to_child, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

long ChildProcess::read(char* buffer, std::size_t size, int timeout_ms) {
    pollfd p{handles_->from_child, POLLIN, 0};
    for (;;) {
        const int ready = ::poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return -1;
        if (ready == 0) return kTimedOut;
        const ssize_t n = ::read(handles_->from_child, buffer, size);
        if (n < 0 && errno == EINTR) continue;
        return static_cast<long>(n);
    }
}

void ChildProcess::close_stdin() { close_fd(handles_->to_child); }

std::optional<int> ChildProcess::wait(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!handles_->status) {
        int status = 0;
        const pid_t done = ::waitpid(handles_->pid, &status, WNOHANG);
        if (done == handles_->pid)
            handles_->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        else if (done < 0 && errno != EINTR) handles_->status = -1;
        else if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        else std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return handles_->status;
}

#else  // _WIN32

std::filesystem::path executable_path() {
    std::wstring buffer(MAX_PATH, L'\0');
    for (;;) {
        const DWORD n =
            GetModuleFileNameW(nullptr, buffer.data(), static_cast<DWORD>(buffer.size()));
        if (n == 0) throw Error(Code::Internal, "cannot find the running executable");
        if (n < buffer.size()) return std::filesystem::path(buffer.substr(0, n));
        buffer.resize(buffer.size() * 2);
    }
}

struct ChildProcess::Handles {
    PROCESS_INFORMATION process{};
    HANDLE to_child = nullptr;
    HANDLE from_child = nullptr;
};

namespace {
void close_handle(HANDLE& h) {
    if (h) CloseHandle(h);
    h = nullptr;
}
}  // namespace

ChildProcess::ChildProcess(const std::filesystem::path& program,
                           const std::vector<std::string>& args, const Environment& overrides)
    : handles_(std::make_unique<Handles>()) {
    // The child inherits our environment; the self-test process is short-lived, so set it here.
    for (const auto& [name, value] : overrides)
        SetEnvironmentVariableA(name.c_str(), value.c_str());
    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE in_read = nullptr, out_write = nullptr;
    if (!CreatePipe(&in_read, &handles_->to_child, &inherit, 0) ||
        !CreatePipe(&handles_->from_child, &out_write, &inherit, 0))
        throw Error(Code::Internal, "cannot create a pipe");
    SetHandleInformation(handles_->to_child, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(handles_->from_child, HANDLE_FLAG_INHERIT, 0);

    std::wstring command = L"\"" + program.wstring() + L"\"";
    for (const auto& a : args) command += L" \"" + std::filesystem::path(a).wstring() + L"\"";
    STARTUPINFOW startup{};
    startup.cb = sizeof startup;
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = in_read;
    startup.hStdOutput = out_write;
    startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    const BOOL started = CreateProcessW(program.wstring().c_str(), command.data(), nullptr, nullptr,
                                        TRUE, 0, nullptr, nullptr, &startup, &handles_->process);
    CloseHandle(in_read);
    CloseHandle(out_write);
    if (!started) {
        close_handle(handles_->to_child);
        close_handle(handles_->from_child);
        throw Error(Code::Internal, "cannot start " + program.string());
    }
}

ChildProcess::~ChildProcess() {
    close_handle(handles_->to_child);
    close_handle(handles_->from_child);
    if (handles_->process.hProcess) {
        if (WaitForSingleObject(handles_->process.hProcess, 0) != WAIT_OBJECT_0)
            TerminateProcess(handles_->process.hProcess, 1);
        CloseHandle(handles_->process.hProcess);
        CloseHandle(handles_->process.hThread);
    }
}

bool ChildProcess::write_all(std::string_view data) {
    while (!data.empty()) {
        DWORD written = 0;
        const auto chunk = static_cast<DWORD>(std::min<std::size_t>(data.size(), 1 << 20));
        if (!WriteFile(handles_->to_child, data.data(), chunk, &written, nullptr) || written == 0)
            return false;
        data.remove_prefix(written);
    }
    return true;
}

long ChildProcess::read(char* buffer, std::size_t size, int timeout_ms) {
    // Anonymous pipes have no overlapped reads: poll for available bytes until the deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        DWORD available = 0;
        if (!PeekNamedPipe(handles_->from_child, nullptr, 0, nullptr, &available, nullptr))
            return GetLastError() == ERROR_BROKEN_PIPE ? 0 : -1;
        if (available > 0) break;
        if (std::chrono::steady_clock::now() >= deadline) return kTimedOut;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    DWORD n = 0;
    if (!ReadFile(handles_->from_child, buffer,
                  static_cast<DWORD>(std::min<std::size_t>(size, 1 << 20)), &n, nullptr))
        return GetLastError() == ERROR_BROKEN_PIPE ? 0 : -1;
    return static_cast<long>(n);
}

void ChildProcess::close_stdin() { close_handle(handles_->to_child); }

std::optional<int> ChildProcess::wait(int timeout_ms) {
    if (WaitForSingleObject(handles_->process.hProcess, static_cast<DWORD>(timeout_ms)) !=
        WAIT_OBJECT_0)
        return std::nullopt;
    DWORD code = 0;
    GetExitCodeProcess(handles_->process.hProcess, &code);
    return static_cast<int>(code);
}

#endif

}  // namespace smime::platform
