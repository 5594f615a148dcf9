"""Catalogue readers and writers: tables, Rockstar lists and FoF group_tab files."""

import numpy as np
import pytest

from symdistill.halos import (
    HaloCatalog,
    load_catalog,
    read_fof_group_tab,
    read_rockstar,
    write_fof_group_tab,
    write_rockstar,
    write_table,
)
from symdistill.halos.fof_format import fof_files


def assert_same_halos(read, original, rtol=1e-6):
    np.testing.assert_allclose(read.positions, original.positions, rtol=rtol, atol=1e-4)
    np.testing.assert_allclose(read.velocities, original.velocities, rtol=rtol, atol=1e-3)
    np.testing.assert_allclose(read.masses, original.masses, rtol=rtol)


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".h5"])
def test_table_round_trip(tmp_path, catalog, suffix):
    path = tmp_path / f"halos{suffix}"
    write_table(catalog, path)
    read = load_catalog(path)
    assert_same_halos(read, catalog)
    assert read.box_size == catalog.box_size
    assert read.redshift == catalog.redshift
    np.testing.assert_allclose(read.delta, catalog.delta, rtol=1e-9)
    assert read.metadata["origin"] == "test"


def test_catalog_save_writes_npz(tmp_path, catalog):
    catalog.save(tmp_path / "c.npz")
    assert load_catalog(tmp_path / "c.npz").n_halos == catalog.n_halos


def test_csv_with_aliases_and_units(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("X,Y,Z,vx,vy,vz,Mass\n1000,2000,3000,1,2,3,5\n")
    read = load_catalog(path, length_unit="kpc/h", mass_unit=1e10, box_size=10.0)
    np.testing.assert_allclose(read.positions, [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(read.masses, [5e10])
    assert read.box_size == 10.0
    assert read.delta is None


def test_table_missing_column_names_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y,z,vx,vy,vz\n1,2,3,1,2,3\n")
    with pytest.raises(ValueError, match="masses"):
        load_catalog(path)


def test_unknown_extension_asks_for_format(tmp_path):
    path = tmp_path / "halos.dat"
    path.write_text("1 2 3")
    with pytest.raises(ValueError, match="format="):
        load_catalog(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_catalog(tmp_path / "nope.npz")


def test_rockstar_round_trip(tmp_path, catalog):
    path = tmp_path / "out_0.list"
    write_rockstar(path, catalog)
    read = load_catalog(path)
    assert read.box_size == pytest.approx(catalog.box_size)
    assert read.redshift == pytest.approx(0.0)
    assert_same_halos(read, catalog, rtol=1e-5)


def test_rockstar_header_columns(tmp_path):
    path = tmp_path / "out_3.list"
    path.write_text(
        "#ID DescID Mvir Vmax Vrms Rvir Rs Np X Y Z VX VY VZ PID\n"
        "#a = 0.500000\n#Box size: 100.000000 Mpc/h\n"
        "1 -1 2e13 300 280 500 60 40 10.0 20.0 30.0 100 -50 5 -1\n"
        "2 -1 3e12 150 140 200 30 20 11.0 21.0 31.0 90 -40 4 1\n"
    )
    read = read_rockstar(path)
    assert read.n_halos == 2
    assert read.redshift == pytest.approx(1.0)
    np.testing.assert_allclose(read.positions[0], [10, 20, 30])
    np.testing.assert_allclose(read.velocities[1], [90, -40, 4])
    parents = read_rockstar(path, parents_only=True)
    assert parents.n_halos == 1


def test_rockstar_missing_mass_column(tmp_path, catalog):
    path = tmp_path / "out_0.list"
    write_rockstar(path, catalog)
    with pytest.raises(ValueError, match="M200b"):
        read_rockstar(path, mass_column="M200b")


@pytest.mark.parametrize("n_files", [1, 3, 7])
def test_fof_round_trip_multi_file(tmp_path, make_catalog, n_files):
    original = make_catalog(n=50, box=1000.0, seed=n_files, with_delta=False)
    original = HaloCatalog(original.positions, original.velocities, original.masses, 1000.0, redshift=0.5)
    names = write_fof_group_tab(tmp_path, original, snapshot=3, n_files=n_files)
    assert len(names) == n_files
    # Reading from the folder or from any one file gives the same catalogue.
    for source in (tmp_path / "groups_003", names[-1]):
        read = read_fof_group_tab(source, box_size=1000.0, redshift=0.5)
        assert_same_halos(read, original, rtol=1e-6)
        assert read.metadata["n_files"] == n_files


def test_fof_units(tmp_path):
    original = HaloCatalog([[1.5, 2.5, 3.5]], [[100.0, 0.0, -100.0]], [2e14], 1000.0, redshift=1.0)
    write_fof_group_tab(tmp_path, original)
    raw = np.fromfile(tmp_path / "groups_004" / "group_tab_004.0", dtype=np.uint8)
    body = raw[24:].view("<f4")  # after the header: len, offset (int32), mass, pos, vel
    assert body[2] == pytest.approx(2e4)  # 1e10 Msun/h
    np.testing.assert_allclose(body[3:6], [1500, 2500, 3500])  # kpc/h
    np.testing.assert_allclose(body[6:9], [50, 0, -50])  # divided by 1+z
    assert load_catalog(tmp_path / "groups_004", redshift=1.0).masses[0] == pytest.approx(2e14)


def test_fof_missing_file_detected(tmp_path, catalog):
    names = write_fof_group_tab(tmp_path, catalog, n_files=3)
    (tmp_path / "groups_004" / "group_tab_004.1").unlink()
    with pytest.raises(ValueError, match="3 files"):
        read_fof_group_tab(names[0])


def test_fof_truncated_file(tmp_path, catalog):
    (name,) = write_fof_group_tab(tmp_path, catalog)
    with open(name, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(ValueError, match="truncated"):
        read_fof_group_tab(name)


def test_fof_files_orders_numerically(tmp_path, catalog):
    write_fof_group_tab(tmp_path, catalog, n_files=12)
    numbers = [int(name.rsplit(".", 1)[1]) for name in fof_files(tmp_path / "groups_004")]
    assert numbers == list(range(12))


def test_fof_min_members(tmp_path, catalog):
    lengths = np.arange(catalog.n_halos, dtype=np.int32)
    write_fof_group_tab(tmp_path, catalog, group_length=lengths)
    read = read_fof_group_tab(tmp_path / "groups_004", box_size=catalog.box_size, min_members=100)
    assert read.n_halos == catalog.n_halos - 100


def test_catalog_validation():
    with pytest.raises(ValueError, match="velocities"):
        HaloCatalog(np.zeros((3, 3)), np.zeros((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        HaloCatalog(np.full((1, 3), np.nan), np.zeros((1, 3)), np.ones(1))
    with pytest.raises(ValueError, match="positive"):
        HaloCatalog(np.zeros((1, 3)), np.zeros((1, 3)), [-1.0])
    with pytest.raises(ValueError, match="kpc/h"):
        HaloCatalog([[5000.0, 1.0, 1.0]], np.zeros((1, 3)), [1.0], box_size=1000.0)


def test_catalog_wraps_rounding_at_box_edge():
    catalog = HaloCatalog([[1000.0000001, -1e-9, 3.0]], np.zeros((1, 3)), [1.0], box_size=1000.0)
    assert np.all((catalog.positions >= 0) & (catalog.positions < 1000.0))


def test_select_and_summary(catalog):
    part = catalog.select(catalog.delta > 0.3)
    assert part.n_halos == int(np.sum(catalog.delta > 0.3))
    summary = catalog.summary()
    assert summary["n_halos"] == catalog.n_halos
    assert 13 <= summary["log10_mass_range"][0] <= summary["log10_mass_range"][1] <= 15
