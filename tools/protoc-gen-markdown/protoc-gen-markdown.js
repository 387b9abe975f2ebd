#!/usr/bin/env node
// A protoc plugin that renders the files it is asked to generate as one Markdown reference,
// api-reference.md: every service and RPC, message and field (number, type, label), enum and
// value, each with the comment written above it in the proto source. proto/buf.gen.docs.yaml
// runs it; the output is only as good as those comments, which buf lint's COMMENTS rule demands.
import { create, createFileRegistry, protoInt64, ScalarType } from "@bufbuild/protobuf";
import {
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { getComments, getSyntaxComments, runNodeJs } from "@bufbuild/protoplugin";

runNodeJs({
  name: "protoc-gen-markdown",
  version: "v1",
  run(request) {
    const fileSet = create(FileDescriptorSetSchema, { file: request.protoFile });
    const registry = createFileRegistry(fileSet);
    const files = request.fileToGenerate.map((name) => registry.getFile(name));
    return create(CodeGeneratorResponseSchema, {
      supportedFeatures: protoInt64.parse(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
      file: [{ name: "api-reference.md", content: render(files).join("\n") + "\n" }],
    });
  },
});

// The document, line by line: the files' own comments, a table of contents, then the services,
// messages and enums in declaration order.
function render(files) {
  const packages = [...new Set(files.map((file) => file.proto.package))];
  const services = files.flatMap((file) => file.services);
  const messages = files.flatMap((file) => file.messages.flatMap(withNested));
  const enums = files.flatMap((file) => [
    ...file.enums,
    ...file.messages.flatMap(withNested).flatMap((message) => message.nestedEnums),
  ]);

  const lines = [`# API reference: ${packages.join(", ")}`, ""];
  lines.push(
    "<!-- Generated from the comments in proto/ by tools/protoc-gen-markdown; do not edit.",
    "     scripts/generate-api-reference writes it anew. -->",
    "",
  );
  for (const file of files) {
    lines.push(`From \`${file.name}.proto\`, package \`${file.proto.package}\`.`, "");
    lines.push(...paragraphs(getSyntaxComments(file).leading));
  }
  lines.push("## Contents", "");
  if (services.length) lines.push(contents("Services", services, packages));
  if (messages.length) lines.push(contents("Messages", messages, packages));
  if (enums.length) lines.push(contents("Enums", enums, packages));
  lines.push("");

  if (services.length) lines.push("## Services", "");
  for (const service of services) lines.push(...renderService(service, packages));
  if (messages.length) lines.push("## Messages", "");
  for (const message of messages) lines.push(...renderMessage(message, packages));
  if (enums.length) lines.push("## Enums", "");
  for (const desc of enums) lines.push(...renderEnum(desc, packages));
  while (lines.at(-1) === "") lines.pop();
  return lines;
}

// "- Title: [A](#a), [B](#b)", wrapped under 100 columns to stay readable as plain text.
function contents(title, descs, packages) {
  const lines = [`- ${title}:`];
  descs.forEach((desc, i) => {
    const name = link(desc, packages) + (i < descs.length - 1 ? "," : "");
    if (lines.at(-1).length + name.length >= 100) lines.push(" ");
    lines[lines.length - 1] += ` ${name}`;
  });
  return lines.join("\n");
}

// A service: its comment, a table of its RPCs, then a section per RPC.
function renderService(service, packages) {
  const lines = [`### ${service.name}`, "", ...paragraphs(getComments(service).leading)];
  lines.push("| RPC | Request | Response |", "|---|---|---|");
  for (const method of service.methods) {
    const [inStream, outStream] = streams(method);
    const rpc = `[${method.name}](#${anchor(`${service.name}.${method.name}`)})`;
    const input = inStream + link(method.input, packages);
    const output = outStream + link(method.output, packages);
    lines.push(`| ${rpc} | ${input} | ${output} |`);
  }
  lines.push("");
  for (const method of service.methods) {
    const [inStream, outStream] = streams(method);
    const input = inStream + relativeName(method.input, packages);
    const output = outStream + relativeName(method.output, packages);
    lines.push(`#### ${service.name}.${method.name}`, "");
    lines.push(`\`rpc ${method.name}(${input}) returns (${output})\``, "");
    if (method.methodKind !== "unary") lines.push(`*${streaming[method.methodKind]}.*`, "");
    if (method.deprecated) lines.push(deprecated(method), "");
    lines.push(...paragraphs(getComments(method).leading));
  }
  return lines;
}

const streaming = {
  server_streaming: "Server streaming",
  client_streaming: "Client streaming",
  bidi_streaming: "Bidirectional streaming",
};

// "stream " before the request and the response, where the RPC streams them.
function streams(method) {
  const kind = method.methodKind;
  return [
    kind === "client_streaming" || kind === "bidi_streaming" ? "stream " : "",
    kind === "server_streaming" || kind === "bidi_streaming" ? "stream " : "",
  ];
}

// A message: its comment, its oneofs, and a table of its fields.
function renderMessage(message, packages) {
  const lines = [`### ${relativeName(message, packages)}`, ""];
  if (message.deprecated) lines.push(deprecated(message), "");
  lines.push(...paragraphs(getComments(message).leading));
  for (const oneof of message.oneofs) {
    const members = oneof.fields.map((field) => `\`${field.name}\``).join(", ");
    const comment = cell(getComments(oneof).leading);
    lines.push(`**Oneof \`${oneof.name}\`** (${members}): ${comment}`, "");
  }
  if (message.fields.length === 0) {
    lines.push("No fields.", "");
    return lines;
  }
  lines.push("| Field | Number | Type | Label | Description |", "|---|---|---|---|---|");
  for (const field of message.fields) {
    const description = described(field);
    const type = fieldType(field, packages);
    const name = `\`${field.name}\``;
    lines.push(`| ${name} | ${field.number} | ${type} | ${label(field)} | ${description} |`);
  }
  lines.push("");
  return lines;
}

// An enum: its comment and a table of its values.
function renderEnum(desc, packages) {
  const lines = [`### ${relativeName(desc, packages)}`, ""];
  if (desc.deprecated) lines.push(deprecated(desc), "");
  lines.push(...paragraphs(getComments(desc).leading));
  lines.push("| Value | Number | Description |", "|---|---|---|");
  for (const value of desc.values) {
    lines.push(`| \`${value.name}\` | ${value.number} | ${described(value)} |`);
  }
  lines.push("");
  return lines;
}

// A message and the messages declared inside it, depth first; map entries are not messages a
// reader declares, so they are left out (the map field shows its key and value types).
function withNested(message) {
  if (message.proto.options?.mapEntry) return [];
  return [message, ...message.nestedMessages.flatMap(withNested)];
}

// The field's type as written in the proto source, linked where it is documented here.
function fieldType(field, packages) {
  const scalar = ScalarType[field.scalar]?.toLowerCase();
  const value = (kind) => (kind === "scalar" ? `\`${scalar}\`` : link(field[kind], packages));
  switch (field.fieldKind) {
    case "list":
      return value(field.listKind);
    case "map": {
      const key = ScalarType[field.mapKey].toLowerCase();
      if (field.mapKind === "scalar") return `\`map<${key}, ${scalar}>\``;
      return `map&lt;\`${key}\`, ${value(field.mapKind)}&gt;`;
    }
    default:
      return value(field.fieldKind);
  }
}

// repeated, optional (explicit presence in proto3), or the oneof the field belongs to.
function label(field) {
  if (field.fieldKind === "list") return "repeated";
  if (field.oneof) return `oneof \`${field.oneof.name}\``;
  if (field.proto.proto3Optional) return "optional";
  return "";
}

// "**Deprecated.**" for what the source marks deprecated.
function deprecated(desc) {
  return desc.deprecated ? "**Deprecated.**" : "";
}

// A field's or enum value's table cell: its comment, after "Deprecated." where it is.
function described(desc) {
  return [deprecated(desc), cell(getComments(desc).leading)].filter(Boolean).join(" ");
}

// A type's name as a link to its section when documented here, else its full name.
function link(desc, packages) {
  if (!packages.includes(desc.file.proto.package)) return `\`${desc.typeName}\``;
  const name = relativeName(desc, packages);
  return `[${name}](#${anchor(name)})`;
}

// A type's name without its package when it is one of the packages documented here.
function relativeName(desc, packages) {
  const pkg = desc.file.proto.package;
  return pkg && packages.includes(pkg) ? desc.typeName.slice(pkg.length + 1) : desc.typeName;
}

// The anchor GitHub gives a heading: lower case, without punctuation.
function anchor(heading) {
  return heading.toLowerCase().replace(/[^a-z0-9_ -]/g, "").replace(/ /g, "-");
}

// A comment as Markdown paragraphs, each followed by a blank line; kept as it is wrapped.
function paragraphs(comment) {
  if (!comment) return [];
  const lines = comment.replace(/\n$/, "").split("\n").map((line) => line.replace(/^ /, ""));
  // A line that Markdown would read as the start of a list, quote or heading is escaped.
  const text = lines.map((line) =>
    escape(line)
      .replace(/^(\s*)([-+*>#])(\s|$)/, "$1\\$2$3")
      .replace(/^(\s*\d+)([.)])(\s|$)/, "$1\\$2$3"),
  );
  return [...text.join("\n").replace(/\n{3,}/g, "\n\n").split("\n"), ""];
}

// A comment as the text of one table cell: one line, with its pipes escaped.
function cell(comment) {
  if (!comment) return "";
  return escape(comment.trim().split(/\s*\n\s*/).join(" ")).replace(/\|/g, "\\|");
}

// Text outside `code spans` with its "<" and "&" escaped, so "<model name>" is not read as HTML.
function escape(text) {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 ? part : part.replace(/&/g, "&amp;").replace(/</g, "&lt;")))
    .join("");
}
