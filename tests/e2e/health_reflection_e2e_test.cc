// The standard gRPC health service (overall, per service, per model) and server reflection,
// called through the generic stub. Debian ships neither .proto, so the few messages needed are
// declared below with the field numbers of grpc/health/v1/health.proto and
// grpc/reflection/v1alpha/reflection.proto, and built at run time.
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/e2e/e2e_server.h"

namespace tessera::e2e {
namespace {

namespace protobuf = ::google::protobuf;

constexpr char kProtocolMessages[] = R"pb(
  name: "tessera_test/grpc_protocols.proto"
  package: "tessera_test"
  syntax: "proto3"
  message_type {
    name: "HealthCheckRequest"
    field { name: "service" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
  }
  message_type {
    name: "HealthCheckResponse"
    field {
      name: "status" number: 1 type: TYPE_ENUM label: LABEL_OPTIONAL
      type_name: ".tessera_test.HealthCheckResponse.ServingStatus"
    }
    enum_type {
      name: "ServingStatus"
      value { name: "UNKNOWN" number: 0 }
      value { name: "SERVING" number: 1 }
      value { name: "NOT_SERVING" number: 2 }
      value { name: "SERVICE_UNKNOWN" number: 3 }
    }
  }
  message_type {
    name: "ServerReflectionRequest"
    field { name: "host" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field {
      name: "file_containing_symbol" number: 4 type: TYPE_STRING label: LABEL_OPTIONAL
      oneof_index: 0
    }
    field {
      name: "list_services" number: 7 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0
    }
    # In a oneof, as in reflection.proto, so that an empty list_services is still sent.
    oneof_decl { name: "message_request" }
  }
  message_type {
    name: "ServerReflectionResponse"
    field {
      name: "file_descriptor_response" number: 4 type: TYPE_MESSAGE label: LABEL_OPTIONAL
      type_name: ".tessera_test.FileDescriptorResponse"
    }
    field {
      name: "list_services_response" number: 6 type: TYPE_MESSAGE label: LABEL_OPTIONAL
      type_name: ".tessera_test.ListServiceResponse"
    }
  }
  message_type {
    name: "FileDescriptorResponse"
    field { name: "file_descriptor_proto" number: 1 type: TYPE_BYTES label: LABEL_REPEATED }
  }
  message_type {
    name: "ListServiceResponse"
    field {
      name: "service" number: 1 type: TYPE_MESSAGE label: LABEL_REPEATED
      type_name: ".tessera_test.ServiceResponse"
    }
  }
  message_type {
    name: "ServiceResponse"
    field { name: "name" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
  }
)pb";

// The hand-declared messages, as dynamic messages parsed from and printed to text format.
class ProtocolMessages {
 public:
  ProtocolMessages() {
    protobuf::FileDescriptorProto file;
    EXPECT_TRUE(protobuf::TextFormat::ParseFromString(kProtocolMessages, &file));
    EXPECT_NE(pool_.BuildFile(file), nullptr);
  }

  std::unique_ptr<protobuf::Message> New(const std::string& type, const std::string& text = "") {
    const protobuf::Descriptor* descriptor = pool_.FindMessageTypeByName("tessera_test." + type);
    EXPECT_NE(descriptor, nullptr) << type;
    std::unique_ptr<protobuf::Message> message(factory_.GetPrototype(descriptor)->New());
    EXPECT_TRUE(protobuf::TextFormat::ParseFromString(text, message.get())) << text;
    return message;
  }

 private:
  protobuf::DescriptorPool pool_;
  protobuf::DynamicMessageFactory factory_{&pool_};
};

// Sends one request on `method` (unary or streaming), half-closes and reads one response.
grpc::Status CallOnce(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                      const protobuf::Message& request, protobuf::Message* response) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, method, &queue);
  // Each operation completes before the next starts, so one tag is enough.
  auto await = [&queue] {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  call->StartCall(nullptr);
  await();
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  call->Write(grpc::ByteBuffer(&slice, 1), nullptr);
  await();
  call->WritesDone(nullptr);
  await();
  grpc::ByteBuffer received;
  call->Read(&received, nullptr);
  if (await()) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(received.Dump(&slices).ok());
    std::string payload;
    for (const grpc::Slice& part : slices) {
      payload.append(reinterpret_cast<const char*>(part.begin()), part.size());
    }
    EXPECT_TRUE(response->ParseFromString(payload));
  }
  grpc::Status status;
  call->Finish(&status, nullptr);
  await();
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {}
  return status;
}

class HealthReflectionTest : public E2eTest {
 protected:
  // The status the health service reports for `service`, as its enum name; or the call's error.
  std::string Health(const std::string& service) {
    std::unique_ptr<protobuf::Message> request =
        messages_.New("HealthCheckRequest", "service: '" + service + "'");
    std::unique_ptr<protobuf::Message> response = messages_.New("HealthCheckResponse");
    const grpc::Status status =
        CallOnce(NewChannel(), "/grpc.health.v1.Health/Check", *request, response.get());
    if (!status.ok()) return "error " + std::to_string(status.error_code());
    const protobuf::Reflection* reflection = response->GetReflection();
    return reflection
        ->GetEnum(*response, response->GetDescriptor()->FindFieldByName("status"))
        ->name();
  }

  std::unique_ptr<protobuf::Message> Reflect(const std::string& request_text) {
    std::unique_ptr<protobuf::Message> request =
        messages_.New("ServerReflectionRequest", request_text);
    std::unique_ptr<protobuf::Message> response = messages_.New("ServerReflectionResponse");
    const grpc::Status status =
        CallOnce(NewChannel(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                 *request, response.get());
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  void LoadModel(const std::string& name) {
    pb::LoadModelRequest request;
    request.set_name(name);
    request.set_path(kModelPath);
    grpc::ClientContext context;
    auto reader = stub().LoadModel(&context, request);
    pb::LoadModelResponse response;
    while (reader->Read(&response)) {}
    ASSERT_TRUE(reader->Finish().ok());
  }

  ProtocolMessages messages_;
};

const char kService[] = "tessera.inference.v1.InferenceService";

TEST_F(HealthReflectionTest, ServerServiceAndModelsAreServing) {
  EXPECT_EQ(Health(""), "SERVING");
  EXPECT_EQ(Health(kService), "SERVING");
  EXPECT_EQ(Health(std::string(kService) + "/" + kModel), "SERVING");
  EXPECT_EQ(Health(std::string(kService) + "/ghost"),
            "error " + std::to_string(grpc::StatusCode::NOT_FOUND));
}

TEST_F(HealthReflectionTest, ModelHealthFollowsLoadAndUnload) {
  const std::string name = std::string(kService) + "/extra";
  LoadModel("extra");
  EXPECT_EQ(Health(name), "SERVING");

  pb::UnloadModelRequest unload;
  unload.set_name("extra");
  pb::UnloadModelResponse unloaded;
  grpc::ClientContext context;
  ASSERT_TRUE(stub().UnloadModel(&context, unload, &unloaded).ok());
  EXPECT_EQ(Health(name), "NOT_SERVING");
  EXPECT_EQ(Health(kService), "SERVING");
}

TEST_F(HealthReflectionTest, ReflectionListsTheServices) {
  std::unique_ptr<protobuf::Message> response = Reflect("list_services: ''");
  std::string text;
  protobuf::TextFormat::PrintToString(*response, &text);
  EXPECT_NE(text.find("name: \"tessera.inference.v1.InferenceService\""), std::string::npos)
      << text;
  EXPECT_NE(text.find("name: \"grpc.health.v1.Health\""), std::string::npos) << text;
}

TEST_F(HealthReflectionTest, ReflectionDescribesTheContract) {
  std::unique_ptr<protobuf::Message> response =
      Reflect(std::string("file_containing_symbol: '") + kService + "'");
  const protobuf::Message& files = response->GetReflection()->GetMessage(
      *response, response->GetDescriptor()->FindFieldByName("file_descriptor_response"));
  const protobuf::FieldDescriptor* protos =
      files.GetDescriptor()->FindFieldByName("file_descriptor_proto");
  bool found = false;
  for (int i = 0; i < files.GetReflection()->FieldSize(files, protos); ++i) {
    protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(files.GetReflection()->GetRepeatedString(files, protos, i)));
    if (file.name() != "tessera/inference/v1/inference.proto") continue;
    found = true;
    ASSERT_EQ(file.service_size(), 1);
    std::vector<std::string> methods;
    for (const auto& method : file.service(0).method()) methods.push_back(method.name());
    EXPECT_NE(std::find(methods.begin(), methods.end(), "Generate"), methods.end());
    EXPECT_NE(std::find(methods.begin(), methods.end(), "ForkSession"), methods.end());
    EXPECT_EQ(methods.size(), 13u);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace tessera::e2e
