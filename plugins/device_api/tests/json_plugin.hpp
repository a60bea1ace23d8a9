// The json plugin (libtern-json.so) loaded through the ABI, as the kernel loads it, with the
// SDK's fake host (its configuration: the descriptor's defaults). Its tern.payload/1 is the
// real JSON adaptor the tests' requests are decoded and their answers encoded with, without
// reaching into the json plugin's sources.
#pragma once

#include <stdexcept>

#include "tern/abi/payload.h"
#include "tern/sdk/testing.hpp"

namespace tern::device_api::test {

class json_plugin {
public:
    json_plugin()
        : host_(library().descriptor(), "json"), instance_(sdk::testing::create(library().descriptor(), host_)) {
        adaptor_ = sdk::testing::query<payload_v1>(*instance_);
        if (adaptor_ == nullptr) throw std::runtime_error("the json plugin provides no tern.payload/1");
    }

    payload_v1* adaptor() const noexcept { return adaptor_; }

private:
    static const sdk::testing::plugin_library& library() {
        static const sdk::testing::plugin_library lib(TERN_JSON_PLUGIN_PATH);
        return lib;
    }

    sdk::testing::fake_host host_;
    sdk::testing::instance_ptr instance_;
    payload_v1* adaptor_ = nullptr;
};

}  // namespace tern::device_api::test
