// Configuration -> client attributes: the whole message as ThingsBoard stores it (protobuf's
// JSON printer with default values, lowerCamelCase names, then its JSON attribute rules), by
// the same walk the protobuf payload adaptor uses.
#include "conversions.hpp"
#include "proto_config.pb.h"
#include "tern/proto_walk/message_walk.hpp"

namespace tern::efento {

decode_status convert_configuration(const ProtoConfig& m, const decode_limits& lim, proto_walk::walk_output& out,
                                    std::string& err) {
    proto_walk::walk_limits w;
    w.type_cast_enabled = lim.type_cast_enabled;
    w.max_decoded_size = lim.max_decoded_size;
    if (!proto_walk::attribute_values(m, w, out, err)) return decode_status::conversion_error;
    if (out.values().size() > lim.max_values) {
        err = "the configuration would store " + std::to_string(out.values().size()) +
              " attributes, more than max_values (" + std::to_string(lim.max_values) + ")";
        return decode_status::too_many_values;
    }
    return decode_status::ok;
}

}  // namespace tern::efento
