from setuptools import find_packages, setup

if __name__ == '__main__':
    # mmrefmutual: the library (the paper); mmrefmutual_bench: the synthetic benchmark, its
    # oracle metric and the main job's report, beside it (docs/architecture.md)
    setup(packages=find_packages(
        include=['mmrefmutual', 'mmrefmutual.*', 'mmrefmutual_bench', 'mmrefmutual_bench.*']))
