// SPDX-License-Identifier: MIT
// Maps command-line options onto operation arguments, using the same table and handlers as the
// native messaging loop. Secrets are never taken from argv: prompt, file or environment only.
#include "cli/cli.h"

#include "keystore/keystore.h"
#include "ops/operation.h"
#include "platform/platform.h"
#include "protocol/envelope.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/log.h"
#include "util/print.h"
#include "version.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace smime::cli {
namespace {

std::string read_file(const std::string& path) {
    // Read in large blocks: a 25 MB message through istreambuf_iterator costs a tenth of a second.
    std::FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (!in) throw Error(Code::Io, "cannot read " + path);
    std::string data;
    char block[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(block, 1, sizeof block, in)) > 0) data.append(block, n);
    const bool failed = std::ferror(in) != 0;
    if (in != stdin) std::fclose(in);
    if (failed) throw Error(Code::Io, "cannot read " + path);
    return data;
}

void write_file(const std::string& path, const std::string& data) {
    if (path == "-") {
        std::fwrite(data.data(), 1, data.size(), stdout);
        std::fflush(stdout);
        return;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out || !out.write(data.data(), static_cast<std::streamsize>(data.size())))
        throw Error(Code::Io, "cannot write " + path);
}

std::string strip_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

struct Parsed {
    json args = json::object();
    std::string passphrase_source;  // "file:..." or "env:...": unlocks the key store if needed
    std::string in_path, out_path;
    bool json_output = false;
    bool help = false;
};

// --name value | --name=value
Parsed parse_options(const Operation& op, int argc, char** argv) {
    Parsed p;
    std::map<std::string, std::string> secret_sources;  // arg -> "file:..." / "env:..."
    for (int i = 2; i < argc; ++i) {
        std::string opt = argv[i];
        if (opt == "--help" || opt == "-h") {
            p.help = true;
            continue;
        }
        if (opt == "--json") {
            p.json_output = true;
            continue;
        }
        if (opt.rfind("--", 0) != 0)
            throw Error(Code::BadRequest, "unexpected argument '" + opt + "'");
        std::string name = opt.substr(2), value;
        bool has_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        auto take_value = [&]() -> std::string {
            if (has_value) return value;
            if (i + 1 >= argc) throw Error(Code::BadRequest, "option --" + name + " needs a value");
            return argv[++i];
        };
        if (name == "in") {
            p.in_path = take_value();
            continue;
        }
        if (name == "out") {
            p.out_path = take_value();
            continue;
        }
        if ((name == "passphrase-file" || name == "passphrase-env") && !op.find_arg("passphrase")) {
            p.passphrase_source = (name == "passphrase-file" ? "file:" : "env:") + take_value();
            continue;
        }
        std::string arg_name = name;
        std::replace(arg_name.begin(), arg_name.end(), '-', '_');
        // Secret sources: --password-file F, --password-env VAR
        for (const char* suffix : {"_file", "_env"}) {
            const std::string s(suffix);
            if (arg_name.size() > s.size() &&
                arg_name.compare(arg_name.size() - s.size(), s.size(), s) == 0) {
                const std::string base = arg_name.substr(0, arg_name.size() - s.size());
                if (const ArgSpec* spec = op.find_arg(base);
                    spec && spec->type == ArgType::Secret) {
                    secret_sources[base] = (s == "_file" ? "file:" : "env:") + take_value();
                    arg_name.clear();
                }
                break;
            }
        }
        if (arg_name.empty()) continue;
        const ArgSpec* spec = op.find_arg(arg_name);
        if (!spec) throw Error(Code::BadRequest, "unknown option --" + name + " for " + op.name);
        switch (spec->type) {
            case ArgType::Boolean:
                if (has_value && value != "true" && value != "false")
                    throw Error(Code::BadRequest, "--" + name + " takes true or false");
                p.args[arg_name] = !has_value || value == "true";
                break;
            case ArgType::Integer: {
                const std::string v = take_value();
                try {
                    std::size_t used = 0;
                    const long long n = std::stoll(v, &used);
                    if (used != v.size()) throw std::invalid_argument("trailing");
                    p.args[arg_name] = n;
                } catch (const std::exception&) {
                    throw Error(Code::BadRequest, "--" + name + " takes an integer");
                }
                break;
            }
            case ArgType::StringArray: {
                std::stringstream list(take_value());
                std::string item;
                if (!p.args.contains(arg_name)) p.args[arg_name] = json::array();
                while (std::getline(list, item, ','))
                    if (!item.empty()) p.args[arg_name].push_back(item);
                break;
            }
            case ArgType::Object: try { p.args[arg_name] = json::parse(take_value());
                } catch (const json::exception&) {
                    throw Error(Code::BadRequest, "--" + name + " takes a JSON object");
                }
                break;
            case ArgType::Secret:
                throw Error(Code::BadRequest, "secrets are not taken on the command line: use --" +
                                                  name + "-file FILE, --" + name +
                                                  "-env VAR, or the prompt");
            case ArgType::Payload: p.in_path = take_value(); break;
            case ArgType::String: {
                // --certificate @cert.pem reads the value from a file.
                std::string v = take_value();
                p.args[arg_name] = (v.size() > 1 && v[0] == '@') ? read_file(v.substr(1)) : v;
                break;
            }
        }
    }
    for (const auto& spec : op.args) {
        if (spec.type != ArgType::Secret) continue;
        auto source = secret_sources.find(spec.name);
        if (source != secret_sources.end()) {
            const std::string& how = source->second;
            if (how.rfind("file:", 0) == 0) {
                std::string content = read_file(how.substr(5));
                p.args[spec.name] = strip_newline(content);
                cleanse(content);
            } else {
                auto value = platform::env(how.substr(4).c_str());
                p.args[spec.name] = value.value_or("");
            }
        } else if (spec.required && !p.help) {
            auto typed = platform::read_secret_line(spec.name + ": ");
            if (!typed)
                throw Error(Code::BadRequest, "missing " + spec.name + ": give --" + spec.name +
                                                  "-file or --" + spec.name +
                                                  "-env (no terminal to prompt on)");
            p.args[spec.name] = *typed;
            cleanse(*typed);
        }
    }
    return p;
}

void print_operation_help(const Operation& op) {
    print("smime-host " + op.name + ": " + op.summary + "\n\nOptions:\n");
    for (const auto& a : op.args) {
        std::string flag = a.name;
        std::replace(flag.begin(), flag.end(), '_', '-');
        std::string form;
        switch (a.type) {
            case ArgType::Payload: form = "--in FILE (or - for stdin)"; break;
            case ArgType::Secret:
                form = "--" + flag + "-file FILE | --" + flag + "-env VAR | prompt";
                break;
            case ArgType::Boolean: form = "--" + flag; break;
            case ArgType::StringArray: form = "--" + flag + " A,B,..."; break;
            case ArgType::String: form = "--" + flag + " VALUE (or @FILE)"; break;
            default: form = "--" + flag + " VALUE"; break;
        }
        print("  " + form + (a.required ? "  (required)" : "") + "\n      " + a.help + "\n");
    }
    if (!op.payload_result.empty())
        print("  --out FILE\n      where to write the resulting " + op.payload_result +
              " (default stdout)\n");
    print(
        "  --passphrase-file FILE | --passphrase-env VAR\n      unlock the key store if this "
        "needs a private key (otherwise you are prompted)\n");
    print("  --json\n      print the whole reply as JSON\n\nResult: " + op.result_help + "\n");
}

}  // namespace

void print_usage() {
    print(std::string("smime-host ") + kVersion +
          ": S/MIME for Thunderbird and webmail, with keys kept on this machine.\n\n"
          "Usage:\n"
          "  smime-host <command> [options]   run one operation (see below)\n"
          "  smime-host <command> --help      options of a command\n"
          "  smime-host --stdio               serve the native messaging protocol on "
          "stdin/stdout\n"
          "  smime-host self-test             check this installation: a round trip as a browser "
          "would\n"
          "  smime-host --version\n\n"
          "Browsers start it with their own arguments (chrome-extension://<id>/, or a manifest\n"
          "path and an add-on id) and then speak the native messaging protocol.\n\nCommands:\n");
    for (const auto& [name, op] : registry().all()) {
        std::string line = "  " + name;
        for (const auto& alias : op.aliases) line += ", " + alias;
        if (line.size() < 32) line.resize(32, ' ');
        print(line + " " + op.summary + "\n");
    }
}

int run(int argc, char** argv) {
    const std::string command = argv[1];
    const Operation* op = registry().find(command);
    if (!op) {
        print_error("smime-host: unknown command '" + command + "' (see smime-host --help)\n");
        return 2;
    }
    Parsed parsed;
    try {
        parsed = parse_options(*op, argc, argv);
    } catch (const Error& e) {
        print_error("smime-host " + op->name + ": " + e.what() + "\n");
        return 2;
    }
    if (parsed.help) {
        print_operation_help(*op);
        return 0;
    }
    Caller caller;  // CommandLine
    try {
        Context context(caller, platform::data_directory());
        Request request;
        if (!parsed.in_path.empty()) {
            if (!op->payload_arg())
                throw Error(Code::BadRequest, op->name + " takes no input file");
            request.payload = SecureString(read_file(parsed.in_path));
            request.has_payload = true;
        }
        // The payload came from --in; stand in for it so a required payload passes validation.
        const ArgSpec* payload = op->payload_arg();
        if (payload && request.has_payload) parsed.args[payload->name] = "";
        validate_args(*op, parsed.args);
        if (payload) parsed.args.erase(payload->name);
        request.args = std::move(parsed.args);
        Reply reply;
        // A handler may consume the payload (decryption releases it early): keep it for a retry.
        const SecureString input = request.payload;
        try {
            reply = op->handler(context, request);
        } catch (const Error& e) {
            if (e.code() != Code::Locked) throw;
            // A fresh process starts locked: unlock from --passphrase-file/-env or a prompt, retry
            // once.
            SecureString passphrase;
            if (parsed.passphrase_source.rfind("file:", 0) == 0) {
                passphrase =
                    SecureString(strip_newline(read_file(parsed.passphrase_source.substr(5))));
            } else if (parsed.passphrase_source.rfind("env:", 0) == 0) {
                passphrase = SecureString(
                    platform::env(parsed.passphrase_source.substr(4).c_str()).value_or(""));
            } else if (auto typed = platform::read_secret_line("key store passphrase: ")) {
                passphrase = SecureString(std::move(*typed));
            } else {
                throw Error(
                    Code::Locked,
                    "the key store is locked: give --passphrase-file FILE or --passphrase-env VAR");
            }
            context.store().unlock(passphrase, std::nullopt);
            request.payload = input;
            reply = op->handler(context, request);
        }
        wipe_secrets(*op, request.args);
        if (parsed.json_output) {
            if (reply.payload)
                reply.result[op->payload_result] = base64::encode(reply.payload->join().str());
            print(json({{"ok", true}, {"result", reply.result}})
                      .dump(2, ' ', false, json::error_handler_t::replace) +
                  "\n");
            return 0;
        }
        if (reply.payload) {
            write_file(parsed.out_path.empty() ? "-" : parsed.out_path,
                       reply.payload->join().str());
            if (!reply.result.empty() && !parsed.out_path.empty())
                print(reply.result.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
            else if (!reply.result.empty())
                print_error(reply.result.dump(2, ' ', false, json::error_handler_t::replace) +
                            "\n");
        } else {
            print(reply.result.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
        }
        return 0;
    } catch (const Error& e) {
        if (parsed.json_output)
            print(envelope::error_reply(nullptr, e)
                      .dump(2, ' ', false, json::error_handler_t::replace) +
                  "\n");
        print_error("smime-host " + op->name + ": " + std::string(code_name(e.code())) + ": " +
                    e.what() + "\n");
        return 1;
    } catch (const std::exception& e) {
        log::error(op->name + ": unexpected failure: " + e.what());
        print_error("smime-host " + op->name + ": ERR_INTERNAL: internal error\n");
        return 1;
    }
}

}  // namespace smime::cli
