// The main() of every `<name>_fuzz_replay` binary (tern_add_fuzz_target in
// cmake/TernTesting.cmake): runs the target's fuzz entry point once per file of the given
// directories or files, so the seed corpus and every crash input ever added to it are replayed
// by ctest with any compiler, no libFuzzer needed.
//
//   <name>_fuzz_replay <corpus directory or file>...
//
// Files run in name order, so two runs replay the same sequence. Exit 0 when every input ran,
// 1 when an input could not be read or no input was found (a wrong corpus path must not pass
// as "nothing failed"), 2 on a usage error. An input that crashes the harness is named on
// stderr before the process dies of its signal. TERN_FUZZ_VERBOSE=1 prints each file's name
// before the harness's own line about what the input came to (the corpus scripts use it).
//
// A harness may define tern_fuzz_replay_command() to answer a command line of its own first
// (the protobuf harness's `--schema P K`): it returns the exit code, or -1 to replay as usual.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int tern_fuzz_replay_command(int argc, char** argv);

namespace fs = std::filesystem;

namespace {

// The input being replayed, for the crash line (read by the signal handler only).
const char* volatile current_input = nullptr;

void write_stderr(const char* s) {
    const ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
    (void)ignored;
}

extern "C" void on_crash(int sig) {
    if (const char* f = current_input) {
        write_stderr("fuzz replay: crashed on ");
        write_stderr(f);
        write_stderr("\n");
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

// Every regular file of the arguments (a directory's files, not its subdirectories), or false
// after a line on stderr when an argument cannot be listed.
bool collect(int argc, char** argv, std::vector<fs::path>& files) {
    bool ok = true;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        const fs::path arg = argv[i];
        if (fs::is_directory(arg, ec)) {
            for (const auto& e : fs::directory_iterator(arg, ec))
                if (e.is_regular_file()) files.push_back(e.path());
        } else if (fs::is_regular_file(arg, ec)) {
            files.push_back(arg);
        } else if (!ec) {
            std::fprintf(stderr, "fuzz replay: %s: no such file or directory\n", argv[i]);
            ok = false;
        }
        if (ec) {
            std::fprintf(stderr, "fuzz replay: %s: %s\n", argv[i], ec.message().c_str());
            ok = false;
        }
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (tern_fuzz_replay_command) {
        const int code = tern_fuzz_replay_command(argc, argv);
        if (code >= 0) return code;
    }
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <corpus directory or file>...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> files;
    bool ok = collect(argc, argv, files);
    if (files.empty()) {
        std::fprintf(stderr, "fuzz replay: no inputs found\n");
        return 1;
    }
    std::sort(files.begin(), files.end());
    for (const int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_crash);
    const bool verbose = std::getenv("TERN_FUZZ_VERBOSE") != nullptr;
    std::size_t replayed = 0;
    std::vector<uint8_t> bytes;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "fuzz replay: cannot read %s\n", f.c_str());
            ok = false;
            continue;
        }
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (verbose) std::fprintf(stderr, "%s: ", f.filename().c_str());
        current_input = f.c_str();
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
        current_input = nullptr;
        ++replayed;
    }
    std::printf("replayed %zu of %zu inputs\n", replayed, files.size());
    return ok ? 0 : 1;
}
