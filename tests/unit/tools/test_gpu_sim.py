# -*- coding: utf-8 -*-
"""Pure logic of the testbed's GPU Operator simulator (tools/testbed/gpu_sim.py): no cluster needed."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "testbed"))
import gpu_sim  # noqa: E402
from gpu_sim import SimError  # noqa: E402
from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog  # noqa: E402

H200 = "0x233510DE"
A100 = "0x20B210DE"

DOC = """
version: v1
mig-configs:
  all-disabled:
    - devices: all
      mig-enabled: false
  all-1g.18gb:
    - devices: all
      mig-enabled: true
      mig-devices: {"1g.18gb": 7}
  mixed-h200:
    - devices: [0, 1]
      mig-enabled: true
      mig-devices: {"1g.18gb": 2, "2g.35gb": 1, "3g.71gb": 1}
    - devices: [2, 3, 4, 5, 6, 7]
      mig-enabled: false
  filtered:
    - device-filter: ["0x20B210DE"]
      devices: all
      mig-enabled: true
      mig-devices: {"3g.40gb": 2}
    - device-filter: "0x233510DE"
      devices: all
      mig-enabled: true
      mig-devices: {"7g.141gb": 1}
  later-wins:
    - devices: all
      mig-enabled: false
    - devices: [3]
      mig-enabled: true
      mig-devices: {"4g.71gb": 1, "3g.71gb": 1}
  impossible:
    - devices: all
      mig-enabled: true
      mig-devices: {"3g.71gb": 3}
  three-3g-plus-1g:
    - devices: all
      mig-enabled: true
      mig-devices: {"3g.71gb": 2, "1g.18gb": 1}
  gap:
    - devices: [0, 1]
      mig-enabled: false
  enabled-empty:
    - devices: all
      mig-enabled: true
      mig-devices: {}
"""


@pytest.fixture(scope="module")
def configs():
    return gpu_sim.parse_mig_parted_config(DOC)


def h200():
    return mig_catalog.lookup(pci_device_id=H200)


def resolve(configs, name, count=8, pci=H200, strategy="mixed"):
    layout = gpu_sim.select_layout(configs, name, count, pci)
    gpu_sim.check_layout(layout, mig_catalog.lookup(pci_device_id=pci))
    return gpu_sim.mig_resources(layout, strategy)


def test_all_disabled_keeps_whole_gpus(configs):
    assert resolve(configs, "all-disabled") == {"nvidia.com/gpu": 8}


def test_all_1g_mixed(configs):
    assert resolve(configs, "all-1g.18gb") == {"nvidia.com/gpu": 0, "nvidia.com/mig-1g.18gb": 56}


def test_all_1g_single_is_gpu_times_instances(configs):
    assert resolve(configs, "all-1g.18gb", strategy="single") == {"nvidia.com/gpu": 56}


def test_mixed_layout_counts_mig_and_whole_gpus(configs):
    assert resolve(configs, "mixed-h200") == {
        "nvidia.com/gpu": 6, "nvidia.com/mig-1g.18gb": 4, "nvidia.com/mig-2g.35gb": 2,
        "nvidia.com/mig-3g.71gb": 2}


def test_single_rejects_more_than_one_profile(configs):
    with pytest.raises(SimError, match="exactly one"):
        resolve(configs, "mixed-h200", strategy="single")


def test_device_filter_selects_per_model(configs):
    assert resolve(configs, "filtered") == {"nvidia.com/gpu": 0, "nvidia.com/mig-7g.141gb": 8}
    assert resolve(configs, "filtered", count=4, pci=A100) == {"nvidia.com/gpu": 0, "nvidia.com/mig-3g.40gb": 8}


def test_later_matching_entry_wins(configs):
    layout = gpu_sim.select_layout(configs, "later-wins", 4, H200)
    assert layout == [None, None, None, {"4g.71gb": 1, "3g.71gb": 1}]
    gpu_sim.check_layout(layout, h200())  # 4g@0 + 3g@4 is placeable


def test_three_3g_cannot_be_placed(configs):
    layout = gpu_sim.select_layout(configs, "impossible", 8, H200)
    with pytest.raises(SimError, match="cannot be placed"):
        gpu_sim.check_layout(layout, h200())


def test_3g_3g_1g_cannot_be_placed_although_compute_sums_to_7(configs):
    layout = gpu_sim.select_layout(configs, "three-3g-plus-1g", 8, H200)
    with pytest.raises(SimError, match="cannot be placed"):
        gpu_sim.check_layout(layout, h200())


def test_profile_of_another_model_is_rejected(configs):
    layout = gpu_sim.select_layout(configs, "filtered", 1, "0x233510DE")
    layout[0] = {"3g.40gb": 1}  # an A100-80GB profile on an H200
    with pytest.raises(SimError, match="do not exist on"):
        gpu_sim.check_layout(layout, h200())


def test_uncovered_gpus_fail(configs):
    with pytest.raises(SimError, match="does not cover GPU"):
        gpu_sim.select_layout(configs, "gap", 4, H200)


def test_missing_config_fails(configs):
    with pytest.raises(SimError, match="not defined"):
        gpu_sim.select_layout(configs, "nope", 8, H200)


def test_mig_enabled_without_instances_advertises_nothing(configs):
    assert resolve(configs, "enabled-empty", count=2) == {"nvidia.com/gpu": 0}
    with pytest.raises(SimError):
        resolve(configs, "enabled-empty", count=2, strategy="single")


def test_filter_not_matching_leaves_gpu_uncovered(configs):
    with pytest.raises(SimError, match="does not cover"):
        gpu_sim.select_layout(configs, "filtered", 2, "0x233010DE")


def test_mig_on_unknown_model_fails():
    with pytest.raises(SimError, match="not in the MIG catalog"):
        gpu_sim.check_layout([{"1g.10gb": 1}], None)


def test_plus_me_resource_name():
    assert gpu_sim.mig_resources([{"1g.18gb+me": 1}], "mixed") == {"nvidia.com/gpu": 0,
                                                                   "nvidia.com/mig-1g.18gb.me": 1}


@pytest.mark.parametrize("doc, msg", [
    ("version: v2\nmig-configs: {a: [{devices: all, mig-enabled: false}]}", "version must be v1"),
    ("version: v1\nmig-configs: {}", "non-empty"),
    ("version: v1\nextra: 1\nmig-configs: {a: [{devices: all, mig-enabled: false}]}", "unexpected field"),
    ("version: v1\nmig-configs: {a: [{devices: all}]}", "mig-enabled"),
    ("version: v1\nmig-configs: {a: [{devices: all, mig-enabled: false, mig-devices: {1g.18gb: 1}}]}",
     "must not carry"),
    ("version: v1\nmig-configs: {a: [{devices: all, mig-enabled: true}]}", "needs mig-devices"),
    ("version: v1\nmig-configs: {a: [{devices: all, mig-enabled: true, mig-devices: {1g.18gb: 0}}]}", "zero"),
    ("version: v1\nmig-configs: {a: [{devices: some, mig-enabled: false}]}", "devices must be"),
    ("version: v1\nmig-configs: {a: [{devices: all, mig-enabled: false, typo: 1}]}", "unexpected field"),
    ("[not, a, mapping]", "must be a mapping"),
])
def test_malformed_documents_are_rejected(doc, msg):
    with pytest.raises(SimError, match=msg):
        gpu_sim.parse_mig_parted_config(doc)


def test_time_slicing_multiplies_gpus():
    doc = "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n      replicas: 4\n"
    assert gpu_sim.time_slicing(doc, {"nvidia.com/gpu": 8}) == ({"nvidia.com/gpu": 32}, 4)


def test_time_slicing_of_mig_resources_and_rename():
    doc = {"sharing": {"timeSlicing": {"renameByDefault": True, "resources": [
        {"name": "nvidia.com/mig-1g.18gb", "replicas": 2},
        {"name": "nvidia.com/gpu", "replicas": 3, "rename": "nvidia.com/gpu-ts"}]}}}
    res, replicas = gpu_sim.time_slicing(doc, {"nvidia.com/gpu": 1, "nvidia.com/mig-1g.18gb": 7})
    assert res == {"nvidia.com/gpu-ts": 3, "nvidia.com/mig-1g.18gb.shared": 14}
    assert replicas == 3


def test_time_slicing_without_sharing_changes_nothing():
    assert gpu_sim.time_slicing("version: v1\nflags: {migStrategy: mixed}\n", {"nvidia.com/gpu": 8}) == \
        ({"nvidia.com/gpu": 8}, None)


@pytest.mark.parametrize("replicas", [0, -1, "4", True])
def test_time_slicing_rejects_bad_replicas(replicas):
    doc = {"sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": replicas}]}}}
    with pytest.raises(SimError, match="replicas"):
        gpu_sim.time_slicing(doc, {"nvidia.com/gpu": 8})


def test_node_facts_from_annotation_and_labels():
    node = {"metadata": {"labels": {"nvidia.com/gpu.count": "4", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                         "annotations": {"cnai.platform/sim-gpu-pci-device-id": A100}}}
    count, pci, model, err = gpu_sim.node_gpu_facts(node)
    assert (count, pci, err) == (4, A100, None)
    assert A100 in model.pci_ids
    # without the annotation the GFD product label is enough
    del node["metadata"]["annotations"]
    count, pci, model, err = gpu_sim.node_gpu_facts(node)
    assert pci == A100 and err is None


def test_layout_annotation_roundtrip_and_garbage():
    node = {"metadata": {"annotations": {"cnai.platform/sim-mig-layout": '[null, {"1g.18gb": 7}]'}}}
    assert gpu_sim.load_layout(node, 2) == [None, {"1g.18gb": 7}]
    assert gpu_sim.load_layout(node, 3) == [None, None, None]  # wrong length: GPUs as they come
    node["metadata"]["annotations"]["cnai.platform/sim-mig-layout"] = "{broken"
    assert gpu_sim.load_layout(node, 1) == [None]


def test_forced_failure_annotation_forms():
    from gpu_sim import forced_failure
    assert not forced_failure("", "cfg-a")
    assert forced_failure("true", "cfg-a") and forced_failure("TRUE", "all-disabled")
    assert forced_failure("cfg-a, cfg-b", "cfg-b") and not forced_failure("cfg-a,cfg-b", "cfg-c")
    assert forced_failure("except:all-disabled", "cfg-a") and not forced_failure("except:all-disabled", "all-disabled")


SUBSYSTEM_DOC = """
version: v1
mig-configs:
  sub:
    - devices: all
      mig-enabled: false
    - device-filter: "0x233510DE:0x18BF10DE"
      devices: all
      mig-enabled: true
      mig-devices: {"7g.141gb": 1}
"""


def test_subsystem_qualified_filter_needs_all_four_ids_like_mig_parted():
    # the same rule as plugins/module_utils/mig_parted.py, implemented independently
    configs = gpu_sim.parse_mig_parted_config(SUBSYSTEM_DOC)
    assert gpu_sim.select_layout(configs, "sub", 2, H200, "0x18BF10DE") == [{"7g.141gb": 1}, {"7g.141gb": 1}]
    assert gpu_sim.select_layout(configs, "sub", 2, H200, "0x16C010DE") == [None, None]
    with pytest.raises(gpu_sim.SimError, match="names a subsystem id, but the node has none"):
        gpu_sim.select_layout(configs, "sub", 2, H200)


def test_device_filter_that_is_not_a_pci_id_is_refused():
    bad = SUBSYSTEM_DOC.replace('"0x233510DE:0x18BF10DE"', '"NVIDIA H200"')
    with pytest.raises(gpu_sim.SimError, match="device-filter 'NVIDIA H200' is not 0xDDDDVVVV"):
        gpu_sim.parse_mig_parted_config(bad)


def test_hold_annotation_holds_until_removed_or_false():
    from gpu_sim import A_HOLD, held
    assert held({A_HOLD: "true"})
    assert held({A_HOLD: "until-released"})
    assert not held({})
    assert not held(None)
    assert not held({A_HOLD: ""})
    assert not held({A_HOLD: "false"})
    assert not held({A_HOLD: " False "})
