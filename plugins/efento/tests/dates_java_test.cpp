// efento.dates_java_reference: the device-information date text ("dd MMM yyyy HH:mm:ss Z" in
// the process's zone) and the measurements' next_transmission_at text ("yyyy-MM-dd HH:mm:ss
// UTC") against the JDK's SimpleDateFormat, which ThingsBoard uses: every Java int second that
// matters (both ends, 0, DST changes, local mean time before 1900-ish zones standardised) and
// 3 000 seeded random ones, in four zones. Needs a JDK (javac, java): without it, exit 77.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "conversions.hpp"

namespace {

constexpr int skipped = 77;

bool have(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

std::vector<int64_t> seconds_to_check() {
    std::vector<int64_t> s = {0, 1, -2, 1700000000, 1719835200, 2147483647, -2147483648LL, 2145916800,
                              1711846799, 1711846800, 1729990799, 1729990800,  // Europe's DST changes, 2024
                              -1640995200, -1000000000, 951782400};
    std::mt19937_64 rng(20261207);
    for (int i = 0; i < 3000; ++i) s.push_back(static_cast<int32_t>(static_cast<uint32_t>(rng())));
    return s;
}

}  // namespace

int main() {
    if (!have("javac -version") || !have("java -version")) {
        std::cout << "no JDK (javac, java): skipped\n";
        return skipped;
    }
    const std::filesystem::path dir = TERN_DATES_JAVA_DIR;
    std::filesystem::create_directories(dir);
    const std::string compile = "javac -d '" + dir.string() + "' '" + TERN_DATES_JAVA_SOURCE + "'";
    if (std::system(compile.c_str()) != 0) {
        std::cerr << "javac failed: " << compile << "\n";
        return 1;
    }
    const std::vector<int64_t> seconds = seconds_to_check();
    const std::filesystem::path input = dir / "seconds.txt";
    {
        std::ofstream f(input);
        for (const int64_t s : seconds) f << s << "\n";
    }
    int failures = 0;
    for (const char* zone : {"UTC", "Europe/Warsaw", "America/St_Johns", "Asia/Kolkata"}) {
        const std::filesystem::path output = dir / "java.txt";
        const std::string run = std::string("TZ='") + zone + "' java -cp '" + dir.string() +
                                "' DatesReference < '" + input.string() + "' > '" + output.string() + "'";
        if (std::system(run.c_str()) != 0) {
            std::cerr << "java failed: " << run << "\n";
            return 1;
        }
        setenv("TZ", zone, 1);
        tzset();
        std::ifstream java(output);
        for (const int64_t s : seconds) {
            std::string expected;
            std::getline(java, expected);
            std::string ours;
            tern::efento::append_local_date(ours, s);
            ours += '\t';
            tern::efento::append_utc_time(ours, s * 1000);
            if (ours != expected && ++failures <= 20)
                std::cerr << zone << " " << s << ": ours '" << ours << "', Java '" << expected << "'\n";
        }
    }
    if (failures != 0) {
        std::cerr << failures << " date texts differ from the JDK's\n";
        return 1;
    }
    std::cout << seconds.size() << " seconds in 4 zones: the same text as the JDK's SimpleDateFormat\n";
    return 0;
}
