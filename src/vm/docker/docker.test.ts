import { describe, expect, it } from "vitest";
import { dockerClient, parseHostList } from "./connection.ts";
import { type ContainerSettings, containerOptions, specHash } from "./container-spec.ts";

const settings: ContainerSettings = {
  instance: "main",
  image: "cloudclaude-agent:latest",
  network: "bridge",
  limits: { memoryBytes: 2 ** 31, nanoCpus: 1e9, pids: 512, tmpBytes: 2 ** 29 },
};
const spec = {
  name: "vm-p1",
  kind: "project" as const,
  env: { ANTHROPIC_API_KEY: "sk-ant-secret" },
  labels: { "cloudclaude.user": "u1" },
};

describe("CLOUDCLAUDE_DOCKER_HOSTS", () => {
  it("names hosts by what they are, never by their position in the list", () => {
    expect(parseHostList("unix:///var/run/docker.sock, tcp://10.0.0.5:2376,gpu=ssh://ops@gpu1")).toEqual([
      { name: "local", url: "unix:///var/run/docker.sock" },
      { name: "10-0-0-5", url: "tcp://10.0.0.5:2376" },
      { name: "gpu", url: "ssh://ops@gpu1" },
    ]);
    // Reordered or with the first removed, the others keep their names.
    expect(parseHostList("ssh://ops@build.example.com,tcp://10.0.0.5:2376").map((h) => h.name)).toEqual([
      "build-example-com",
      "10-0-0-5",
    ]);
    expect(() => parseHostList("tcp://10.0.0.5:2376,tcp://10.0.0.5:2377")).toThrow(/share a name/);
  });

  it("refuses plain TCP to another machine (it would hand out root there)", () => {
    expect(() => dockerClient({ name: "x", url: "tcp://10.0.0.5:2375" })).toThrow(
      /CLOUDCLAUDE_DOCKER_TLS_DIR/,
    );
    expect(() => dockerClient({ name: "x", url: "tcp://127.0.0.1:2375" })).not.toThrow();
  });

  it("refuses what it cannot use, saying why", () => {
    expect(() => parseHostList("http://10.0.0.5")).toThrow(/use unix:\/\/, tcp:\/\/ or ssh:\/\//);
    expect(() => parseHostList("a=unix:///x,a=tcp://y:1")).toThrow(/share a name/);
    expect(() => parseHostList(" , ")).toThrow(/no Docker host/);
    expect(() => parseHostList("Bad_Name=tcp://y:1")).toThrow(/invalid host name/);
  });
});

describe("agent containers", () => {
  it("are hardened: unprivileged, no capabilities, read-only root, limits, only their volume", () => {
    const o = containerOptions(spec, settings, { container: "cloudclaude-main-vm-p1", volume: "v" });
    expect(o.User).toBe("1000:1000");
    expect(o.HostConfig).toMatchObject({
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Memory: 2 ** 31,
      MemorySwap: 2 ** 31,
      PidsLimit: 512,
      NanoCpus: 1e9,
      NetworkMode: "bridge",
      Mounts: [{ Type: "volume", Source: "v", Target: "/home/agent", ReadOnly: false }],
    });
    expect(o.HostConfig?.Binds).toBeUndefined();
    expect(o.HostConfig?.Privileged).toBeUndefined();
    expect(o.Env).toContain("ANTHROPIC_API_KEY=sk-ant-secret");
    expect(JSON.stringify(o.Labels)).not.toContain("sk-ant-secret");
  });

  it("carry a digest of their spec that changes with the credential, image or limits", () => {
    const base = specHash(spec, settings);
    expect(specHash({ ...spec }, { ...settings })).toBe(base);
    expect(specHash({ ...spec, env: { ANTHROPIC_API_KEY: "other" } }, settings)).not.toBe(base);
    expect(specHash(spec, { ...settings, image: "cloudclaude-agent:2" })).not.toBe(base);
    expect(specHash(spec, { ...settings, limits: { ...settings.limits, pids: 64 } })).not.toBe(base);
  });
});
