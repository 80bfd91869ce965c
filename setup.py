"""Packaging for mpi-render: the renderer (mpi_render) and the dashboard (dashboard)."""
from setuptools import setup

setup(
    name="mpi-render",
    version="0.1.0",
    description="MPI parallel Mandelbrot renderer that bursts one render across sites, live in a browser",
    python_requires=">=3.9",
    packages=["mpi_render", "mpi_render.kernels", "mpi_render.deep", "mpi_render.site", "mpi_render.launch",
              "dashboard"],
    package_data={"dashboard": ["static/*", "static/*/*", "templates/*"], "mpi_render.kernels": ["*.c"]},
    install_requires=[
        "gmpy2>=2.2",  # MPFR: the reference orbit of deep views (manylinux wheels, MPFR inside)
        "mpi4py>=4.0",
        "numpy>=1.24",
        "pillow>=10.0",
        "tornado>=6.4",
    ],
    extras_require={
        "numba": ["numba>=0.68"],
        "mpich": ["mpich>=4.2"],
        "test": [
            "pytest>=8.0",
            "pytest-mpi>=0.6",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "playwright==1.65.2",
            "jsonschema>=4.20",
            "pyyaml>=6.0",
            "ruff>=0.6",
        ],
    },
    entry_points={
        "console_scripts": [
            "mpi-render=mpi_render.cli:main",
            "mpi-render-dashboard=dashboard.server:main",
            "mpi-render-demo=mpi_render.launch.demo:main",
        ],
    },
)
